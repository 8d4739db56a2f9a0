import fp from 'fastify-plugin'
import { Agent } from 'undici'
import { Errors } from '../errors.js'
import { guardedLookup, TargetGuard } from '../media/targets.js'
import { BeforeSend } from '../webhooks/before-send.js'
import { Deliverer, PER_HOOK_IN_FLIGHT } from '../webhooks/deliverer.js'
import { WebhookService } from '../webhooks/service.js'

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: WebhookService
    /** The before-send call the message service makes (CONTRACT §8). */
    beforeSend: BeforeSend
  }
}

export interface WebhooksOptions {
  /** TIM_WEBHOOK_ALLOWED_HOSTS */
  allowedHosts: readonly string[]
  /** TIM_WEBHOOK_TIMEOUT_MS */
  timeoutMs: number
  /** TIM_BEFORE_SEND_TIMEOUT_MS */
  beforeSendTimeoutMs: number
  /** Unix seconds now. */
  now: () => number
  /** Milliseconds now: the retry schedule's clock. */
  clock?: () => number
}

/** The webhooks are read again, retries that came due are claimed, and the backlog is measured this often. */
const TICK_MS = 1000
/** At close, attempts in flight get this long to be answered and recorded. */
const CLOSE_GRACE_MS = 1000

/**
 * Webhooks: deliveries through one guarded undici Agent (at most PER_HOOK_IN_FLIGHT
 * connections per endpoint, so a slow one holds only its own), the before-send call on an
 * Agent of its own (a send waits for it: never behind deliveries). Delivering starts when
 * the app is ready: the message service renders the envelopes.
 */
export default fp<WebhooksOptions>(async (app, opts) => {
  const clock = opts.clock ?? Date.now
  const guard = new TargetGuard(opts.allowedHosts, { variable: 'TIM_WEBHOOK_ALLOWED_HOSTS', refuse: Errors.webhookUrlRefused })
  const agent = new Agent({
    connect: { timeout: opts.timeoutMs, lookup: guardedLookup },
    connections: PER_HOOK_IN_FLIGHT,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  })
  const beforeSendAgent = new Agent({
    connect: { timeout: opts.beforeSendTimeoutMs, lookup: guardedLookup },
    connections: 64,
    headersTimeout: opts.beforeSendTimeoutMs,
    bodyTimeout: opts.beforeSendTimeoutMs,
  })
  const beforeSend = new BeforeSend({ guard, dispatcher: beforeSendAgent, timeoutMs: opts.beforeSendTimeoutMs, count: (r) => app.metrics.beforeSend(r) })
  const deliverer = new Deliverer({
    store: app.store.webhooks,
    events: app.store.events,
    messages: app.store.messages,
    view: (m, viewer, points) => app.messages.viewWith(m, viewer, points),
    guard,
    dispatcher: agent,
    timeoutMs: opts.timeoutMs,
    clock,
    random: Math.random,
    metrics: app.metrics,
    onError: (err) => app.log.warn({ err }, 'webhook deliveries: a step failed; it is tried again'),
  })
  const service = new WebhookService({ store: app.store.webhooks, events: app.store.events, guard, deliverer, beforeSend, now: opts.now })
  app.decorate('webhooks', service)
  app.decorate('beforeSend', beforeSend)

  let timer: NodeJS.Timeout | undefined
  let unsubscribe = () => {}
  let ticking = false
  const tick = async () => {
    await service.refresh()
    deliverer.kick()
    const { pending, oldestAt } = await app.store.webhooks.backlog()
    app.metrics.webhookBacklog(pending, oldestAt === null ? 0 : Math.max(0, opts.now() - oldestAt))
  }
  app.addHook('onReady', async () => {
    await service.refresh()
    // What a stopped process left owed is due now; with SQLite nothing else can hold a lease.
    await app.store.webhooks.wake(clock(), app.store.kind === 'sqlite')
    unsubscribe = app.store.events.subscribe(() => deliverer.kick())
    timer = setInterval(() => {
      if (ticking) return
      ticking = true
      tick().catch((err: unknown) => app.log.warn({ err }, 'webhooks: reading their state failed')).finally(() => { ticking = false })
    }, TICK_MS)
    timer.unref()
    deliverer.kick()
  })
  app.addHook('preClose', async () => {
    clearInterval(timer)
    unsubscribe()
    await deliverer.stop(CLOSE_GRACE_MS)
  })
  app.addHook('onClose', async () => {
    await Promise.all([agent.destroy(), beforeSendAgent.destroy()])
  })
}, { name: 'timgate-webhooks', dependencies: ['timgate-store', 'timgate-metrics'] })
