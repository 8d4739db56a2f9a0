import fp from 'fastify-plugin'
import { tendStreams } from '../events/stream.js'

export interface EventsOptions {
  /** TIM_EVENTS_RETENTION_S: how long events stay resumable. */
  retentionS: number
  /** Unix seconds now. */
  now: () => number
}

/** Old events are swept this often, a batch at a time. */
const SWEEP_MS = 60_000

/**
 * The event streams' life: the hub follows the log from start-up; one timer a second ends
 * the streams whose UserSig has expired, cuts those whose reader has fallen behind, and
 * pings them all every PING_S; old events are
 * swept; closing ends every stream (open streams never finish on their own, and the
 * drain would wait for them).
 */
export default fp<EventsOptions>(async (app, opts) => {
  await app.hub.start()
  const streamProcess = app.streamProcess
  app.metrics.eventStreams(() => ({
    open: app.hub.size + (streamProcess?.size ?? 0),
    process: streamProcess === undefined ? undefined : { up: streamProcess.ready, restarts: streamProcess.restarts },
  }))
  if (streamProcess !== undefined) {
    void streamProcess.start()
    const unsubscribe = app.store.events.subscribe(() => streamProcess.wake())
    app.addHook('onClose', async () => unsubscribe())
  }
  let ticks = 0
  const tick = setInterval(() => tendStreams(app.hub.streams(), ++ticks, opts.now(), Date.now()), 1000)
  tick.unref()
  let sweeping = false
  const sweep = setInterval(() => {
    if (sweeping) return
    sweeping = true
    void (async () => {
      const before = opts.now() - opts.retentionS
      // A batch per write, so that a large backlog never holds the writer long.
      while (await app.store.events.sweep(before) > 0) await new Promise(resolve => setImmediate(resolve))
    })().catch((err: unknown) => app.log.warn({ err }, 'sweeping old events failed')).finally(() => { sweeping = false })
  }, SWEEP_MS)
  sweep.unref()
  app.addHook('preClose', async () => {
    clearInterval(tick)
    clearInterval(sweep)
    app.hub.stop()
    await streamProcess?.stop()
  })
}, { name: 'timgate-events', dependencies: ['timgate-services'] })
