import { fork, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyBaseLogger } from 'fastify'
import type { StoredMessage } from '../../db/store.js'
import type { LogFormat } from '../log.js'
import { END_GRACE_MS, StreamCounts, streamingSockets } from './stream.js'

/** What the stream process needs to open the store and log as the gateway does. */
export interface StreamerSettings {
  dataDir: string
  databaseUrl?: string | undefined
  logLevel: string
  logFormat: LogFormat
}

/** A stream to serve, sent with its connection: the request is authenticated and admitted. */
export interface StreamRequest {
  /** The user whose events it carries; undefined for the app stream. */
  user: string | undefined
  owner: string
  /** Unix seconds: the stream ends with its UserSig. */
  expiresAt: number
  /** Last-Event-ID (or ?after=): undefined for live from now. */
  after: string | undefined
  requestId: string
}

/** From the gateway to the stream process. */
export type ToStreamer =
  | { t: 'init', settings: StreamerSettings }
  | { t: 'wake' }
  | { t: 'online', m: StoredMessage, recipients: readonly string[] }
  | ({ t: 'stream' } & StreamRequest)
  | { t: 'stop' }

/** From the stream process to the gateway. */
export type FromStreamer =
  | { t: 'ready' }
  | { t: 'left', owner: string }

/** The stream process is started again this long after it died, twice as long after each quick death, up to MAX_RESTART_MS. */
const RESTART_MS = 1000
const MAX_RESTART_MS = 30_000
/** A process that served this long before it died is started again after RESTART_MS. */
const LIVED_MS = 60_000
/**
 * A child with no stream is woken at most this often: it only moves its position along
 * the log (a stream that comes then starts from there), and a wake-up each turn of the
 * event loop cost both processes ~1/3 of a send's CPU for nothing.
 */
const IDLE_WAKE_MS = 100
/** How long it may take to start. */
const START_MS = 60_000

/**
 * The stream process's young generation, in MB a semi-space (V8's default grows to 16): its
 * garbage is short-lived frames and its live set small, so that a small one costs little
 * time, and its heap stays small (10,000 idle streams: +63 MB of RSS with the default, +37
 * with 2).
 */
const SEMI_SPACE_MB = 2

/** The entry of the stream process: this directory's streamer, as .js when built, .ts under a TypeScript loader. */
const ENTRY = fileURLToPath(new URL(`./streamer${extname(fileURLToPath(import.meta.url))}`, import.meta.url))

/**
 * The gateway's side of the event stream process (TIM_EVENTS_PROCESS): a child process that
 * serves the event streams, so that writing each event on each connection (a syscall a
 * frame) costs this process nothing. An admitted `GET /events` connection is handed over
 * with its request's facts; the child follows the log itself (the store's file or database)
 * and is woken when events commit here, and hears online messages. The gateway counts each
 * identity's streams: +1 when handed over, −1 when the child says one left.
 *
 * While the child is not running (starting, or started again after it died), streams are
 * served in the gateway's process: ready is false then.
 */
export class StreamProcess {
  readonly #settings: StreamerSettings
  readonly #log: FastifyBaseLogger
  readonly #owners = new StreamCounts()
  #child: ChildProcess | undefined
  #ready = false
  #stopping = false
  #waking = false
  #restart: NodeJS.Timeout | undefined
  #started: Promise<void> = Promise.resolve()
  #restartMs = RESTART_MS
  #restarts = 0
  /** Connections sent but not yet taken by the child: closed if it dies first (Node then never answers for them). */
  readonly #pending = new Set<Socket>()

  constructor (settings: StreamerSettings, log: FastifyBaseLogger) {
    this.#settings = settings
    this.#log = log
  }

  /** Whether streams go to the child now. */
  get ready (): boolean {
    return this.#ready
  }

  /** The child's process id, while it runs. */
  get pid (): number | undefined {
    return this.#child?.pid
  }

  /** Streams the child serves. */
  get size (): number {
    return this.#owners.size
  }

  /** Times the child died and was started again. */
  get restarts (): number {
    return this.#restarts
  }

  /** Streams of `owner` the child serves. */
  streamsOf (owner: string): number {
    return this.#owners.of(owner)
  }

  /**
   * Starts the child; resolves once it serves (or has failed to start: streams stay in the
   * gateway, and it is tried again). Not awaited by the app's start-up (under a TypeScript
   * loader on a busy machine it took longer than Fastify's plugin timeout): src/server.ts
   * awaits started() before listening.
   */
  start (): Promise<void> {
    this.#started = this.#start()
    return this.#started
  }

  /** Resolves once the latest start has ended (served, or failed). */
  async started (): Promise<void> {
    await this.#started
  }

  async #start (): Promise<void> {
    const startedAt = Date.now()
    const child = fork(ENTRY, [], { execArgv: [...process.execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.#child = child
    let timer: NodeJS.Timeout | undefined
    await new Promise<void>(resolve => {
      const done = () => {
        clearTimeout(timer)
        resolve()
      }
      timer = setTimeout(() => {
        this.#log.error('the event stream process did not start in time: streams are served by the gateway')
        child.kill('SIGKILL')
        done()
      }, START_MS)
      child.on('message', (msg: FromStreamer) => {
        if (msg.t === 'ready') {
          this.#ready = true
          done()
          // Events that committed while it started, after its hub took the log's position.
          this.#send({ t: 'wake' })
        } else this.#owners.remove(msg.owner)
      })
      child.once('exit', (code, signal) => {
        this.#ready = false
        this.#owners.clear()
        for (const socket of this.#pending) socket.destroy()
        this.#pending.clear()
        if (this.#child === child) this.#child = undefined
        done()
        if (this.#stopping) return
        const delay = Date.now() - startedAt >= LIVED_MS ? RESTART_MS : this.#restartMs
        this.#restartMs = Math.min(MAX_RESTART_MS, delay * 2)
        this.#log.error({ code, signal }, `the event stream process exited: its streams were cut (clients resume); streams are served by the gateway until it is started again in ${delay} ms`)
        this.#restarts++
        this.#restart = setTimeout(() => { void this.start() }, delay)
        this.#restart.unref()
      })
      // A child that dies mid-send: its exit says so.
      child.on('error', () => {})
      child.send({ t: 'init', settings: this.#settings } satisfies ToStreamer)
    })
  }

  /**
   * Hands an admitted stream's connection to the child, which writes its head and events.
   * The child gets a descriptor of its own for the connection (keepOpen), and the gateway
   * then closes its own, as for any connection that ends: its HTTP server lets go of the
   * request, response and parser (with the descriptor taken away instead, Node's list of
   * the server's connections kept it, and closing the server threw on it). Closing one of
   * two descriptors of a connection neither ends nor resets it.
   */
  hand (socket: Socket, request: StreamRequest): void {
    const child = this.#child!
    // The connection's handle goes, not the socket object: Node would treat a server's
    // socket as the server's connection in the child (and ask the child about it when the
    // server closes). Gone already: nothing to serve.
    const handle = (socket as unknown as { _handle: { readStop: () => number } | null })._handle
    if (handle === null) return
    this.#owners.add(request.owner)
    // Until the child has it (handles go one at a time, each acknowledged), this process
    // reads nothing more of it, and stray bytes already read close it rather than get an
    // answer inside the stream (request-timeouts.ts).
    handle.readStop()
    streamingSockets.add(socket)
    this.#pending.add(socket)
    child.send({ t: 'stream', ...request } satisfies ToStreamer, handle as unknown as Socket, { keepOpen: true }, (err) => {
      this.#pending.delete(socket)
      if (err !== null) this.#owners.remove(request.owner)
      socket.destroy()
    })
  }

  /**
   * Events committed: the child reads them (one message per turn of the event loop,
   * however many commits; every IDLE_WAKE_MS while it has no stream).
   */
  wake (): void {
    if (!this.#ready || this.#waking) return
    this.#waking = true
    const send = () => {
      this.#waking = false
      this.#send({ t: 'wake' })
    }
    if (this.#owners.size > 0) setImmediate(send)
    else setTimeout(send, IDLE_WAKE_MS).unref()
  }

  /** An online message, for the child's streams. */
  online (m: StoredMessage, recipients: readonly string[]): void {
    // Online messages are never replayed: only a child with streams needs them.
    if (this.#ready && this.#owners.size > 0) this.#send({ t: 'online', m, recipients })
  }

  #send (msg: ToStreamer): void {
    const child = this.#child
    if (child?.connected === true) child.send(msg, (err: Error | null) => { if (err !== null) this.#log.warn({ err }, 'the event stream process did not take a message') })
  }

  /** Ends every stream (each has END_GRACE_MS to hand over what is buffered) and the child. */
  async stop (): Promise<void> {
    this.#stopping = true
    this.#ready = false
    clearTimeout(this.#restart)
    const child = this.#child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
    this.#send({ t: 'stop' })
    const kill = setTimeout(() => child.kill('SIGKILL'), END_GRACE_MS + 5000)
    await exited
    clearTimeout(kill)
  }
}
