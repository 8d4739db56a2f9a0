/**
 * The event stream process (TIM_EVENTS_PROCESS, src/events/stream-process.ts): serves the
 * event streams whose connections the gateway hands it. It follows the log on a connection
 * of its own to the store, is woken by the gateway when events commit (and, on PostgreSQL,
 * by the store's own notifications), and ends its streams and itself when the gateway
 * stops or goes away.
 */
import { Socket, type SocketConstructorOpts } from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { Store } from '../../db/store.js'
import { StoreUnavailable } from '../../db/errors.js'
import { openSqliteStore } from '../../db/sqlite/sqlite-store.js'
import { openPgStore } from '../../db/postgres/pg-store.js'
import { Errors } from '../errors.js'
import { processLogger } from '../log.js'
import { viewWith } from '../messages/service.js'
import { rawErrorResponse } from '../plugins/errors.js'
import { SECURITY_HEADERS } from '../plugins/response-headers.js'
import { EventHub } from './hub.js'
import { EventStream, streamHead, tendStreams } from './stream.js'
import type { FromStreamer, StreamerSettings, StreamRequest, ToStreamer } from './stream-process.js'

/** Connections of its own to PostgreSQL (LISTEN has one more): its reads are few and short, and every connection counts against the server's max_connections (100 by default) with the gateway's pool and its replicas'. */
const PG_POOL = 2

/** To the gateway, while it is there (once it has gone, the streams' leaving goes nowhere). */
const tell = (msg: FromStreamer) => {
  if (process.connected) process.send?.(msg, () => {})
}

/** The answer to a stream that could not start (the log could not be read): the gateway's {code, desc}. */
function refusal (err: unknown, requestId: string): string {
  return rawErrorResponse(err instanceof StoreUnavailable ? Errors.databaseUnavailable() : Errors.internal(), { ...SECURITY_HEADERS, 'x-request-id': requestId })
}

/** One handed-over connection: its stream, live or resumed. */
function serve (hub: EventHub, log: Logger, socket: Socket, request: StreamRequest): void {
  const startedAt = performance.now()
  // Whatever the client sends is read and dropped, so that its end (and the close) is seen.
  socket.on('error', () => {}).resume()
  socket.on('close', () => log.info({ reqId: request.requestId, responseTime: performance.now() - startedAt }, 'event stream closed'))
  const stream = new EventStream(socket, request.user, request.owner, request.expiresAt, 0)
  hub.attach(stream, request.after, () => socket.write(streamHead(request.requestId))).catch((err: unknown) => {
    if (!stream.opened) {
      log.error({ err, reqId: request.requestId }, 'an event stream could not start')
      socket.end(refusal(err, request.requestId))
      return
    }
    log.warn({ err, reqId: request.requestId }, 'an event stream could not catch up')
    stream.cut()
  })
}

async function openStore (settings: StreamerSettings): Promise<Store> {
  if (settings.databaseUrl !== undefined) return openPgStore(settings.databaseUrl, { poolSize: PG_POOL })
  return openSqliteStore(join(settings.dataDir, 'timgate.db'), { checkpoints: false, mustExist: true })
}

/** What this process serves once it has started. */
interface Serving {
  hub: EventHub
  log: Logger
  stop: () => Promise<void>
}

async function main (settings: StreamerSettings): Promise<Serving> {
  const log = processLogger(settings.logLevel, settings.logFormat).child({ process: 'event-streams' })
  const store = await openStore(settings)
  const hub = new EventHub({
    events: store.events,
    messages: store.messages,
    view: viewWith,
    onError: (err) => log.warn({ err }, 'reading the event log failed; trying again at the next event'),
    onLeave: (s) => tell({ t: 'left', owner: s.owner }),
  })
  await hub.start()
  let ticks = 0
  const tick = setInterval(() => tendStreams(hub.streams(), ++ticks, Math.floor(Date.now() / 1000), Date.now()), 1000)
  const stop = async () => {
    clearInterval(tick)
    const open = [...hub.streams()]
    hub.stop()
    // Each stream has END_GRACE_MS (stream.ts) to hand its reader what is buffered.
    await Promise.all(open.map(s => new Promise<void>(resolve => {
      if (s.body.destroyed) resolve()
      else s.body.once('close', () => resolve())
    })))
    await store.close()
  }
  return { hub, log, stop }
}

let serving: Serving | undefined
let stopping = false
/** Ends the streams, then the process; before it serves, at once. */
function stop (): void {
  if (stopping) return
  stopping = true
  void (serving?.stop() ?? Promise.resolve()).finally(() => process.exit(0))
}

process.on('message', (msg: ToStreamer, handle?: unknown) => {
  // A stream's connection comes as its bare handle (stream-process.ts): made a socket here.
  const socket = handle === undefined ? undefined : new Socket({ handle, readable: true, writable: true } as SocketConstructorOpts)
  if (msg.t === 'init') {
    main(msg.settings).then((s) => {
      serving = s
      tell({ t: 'ready' })
    }, (err: unknown) => {
      process.stderr.write(`timgate event stream process: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
      process.exit(1)
    })
  } else if (msg.t === 'stop') stop()
  else if (msg.t === 'wake') serving?.hub.wake()
  else if (msg.t === 'online') serving?.hub.online(msg.m, msg.recipients)
  else if (socket === undefined || serving === undefined || stopping) {
    // Not served (the client left before its connection was sent, or this process is
    // ending): the gateway counted it.
    socket?.destroy()
    tell({ t: 'left', owner: msg.owner })
  } else serve(serving.hub, serving.log, socket, msg)
})
// The gateway is gone (killed outright, say): the streams end, and their clients resume elsewhere.
process.on('disconnect', stop)
// The gateway decides when this process ends (a Ctrl-C reaches the whole process group):
// it closes gracefully, then says stop; if it dies, the IPC channel's end says so.
process.on('SIGINT', () => {})
process.on('SIGTERM', () => {})
