import type { Socket } from 'node:net'
import { SECURITY_HEADERS } from '../plugins/response-headers.js'

/** What a stream's head says of it, also in the answer to HEAD. */
export const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const

/** The response's head but its date and request id: one string for every stream. */
const HEAD = 'HTTP/1.1 200 OK\r\n' + Object.entries({ ...SECURITY_HEADERS, ...STREAM_HEADERS, connection: 'close' })
  .map(([name, value]) => `${name}: ${value}\r\n`).join('')

/** A stream's response head, written on its connection, with a comment as the first bytes of its body. */
export function streamHead (requestId: string): string {
  return `${HEAD}date: ${new Date().toUTCString()}\r\nx-request-id: ${requestId}\r\n\r\n: timgate events\n\n`
}

/** Every stream gets a comment this often, so that proxies do not cut it (CONTRACT §8: at least every 15 s). */
const PING_S = 15

/**
 * What one timer does every second for all the streams of a process: ends those whose
 * UserSig has expired (`now`, Unix seconds), cuts those whose reader has fallen behind, and
 * pings them all at every PING_S-th tick.
 */
export function tendStreams (streams: Iterable<EventStream>, tick: number, now: number, nowMs: number): void {
  const ping = tick % PING_S === 0
  for (const s of streams) {
    if (s.expiresAt <= now) s.end()
    else if (ping) s.write(': ping\n\n')
    s.checkReader(nowMs)
  }
}

/**
 * A stream whose reader has more than SLOW_BYTES waiting for longer than SLOW_MS is cut (it
 * resumes with Last-Event-ID), and at once beyond MAX_BUFFERED_BYTES: never buffered without
 * bound. A burst (a batch send: 500 events of up to 12 KB at once) fits under the cap.
 */
export const SLOW_BYTES = 1024 * 1024
export const SLOW_MS = 5000
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024
/** A stream that ends has this long to hand its reader what is buffered before its connection is dropped. */
export const END_GRACE_MS = 1000
/** Frames a stream may queue while it catches up with the log before it is cut. */
const MAX_QUEUED = 10_000

/**
 * Connections an event stream has taken over (its head written on them directly): a client
 * error on one (stray bytes after the request) closes it, never answers inside the stream.
 */
export const streamingSockets = new WeakSet<object>()

/**
 * One SSE connection: frames are written as they come; while the stream replays the log
 * (catching up), live frames wait in order. A reader that lets more than
 * MAX_BUFFERED_BYTES pile up is cut, never buffered without bound.
 */
export class EventStream {
  /** The position of the last event written: an online message's id, never a resume point that skips one. */
  lastPos: number
  #queue: Array<{ pos: number, text: string }> | undefined = []
  #ended = false
  /** Whether the response's head has gone: nothing is written before it. */
  #opened = false
  #slowSince: number | undefined
  /**
   * Between hold() and release(): '' until a frame comes, then that frame; a second one
   * corks the socket (#corked), which gathers them into one write.
   */
  #held: string | undefined
  #corked = false

  constructor (
    /**
     * Where frames go: the connection itself, once the head is written on it. No stream in
     * between: a PassThrough piped by Fastify cost ~5 KB more per idle stream.
     */
    readonly body: Socket,
    /** The user whose events it carries; undefined for the app stream. */
    readonly user: string | undefined,
    /** The identity it counts against (streams per identity). */
    readonly owner: string,
    /** Unix seconds: the stream ends with its UserSig. */
    readonly expiresAt: number,
    start: number,
  ) {
    this.lastPos = start
    // 'on', not 'once': a socket closes once, and each once() costs a bound wrapper and its
    // state (~150 bytes a stream, with 10,000 idle streams' RSS near its bar).
    this.body.on('close', this.#closed)
  }

  readonly #closed = () => { this.#ended = true }

  /** The stream never opened and its connection lives on (the request was answered with an error): it lets go of the connection. */
  abandon (): void {
    this.#ended = true
    this.body.off('close', this.#closed)
  }

  get opened (): boolean {
    return this.#opened
  }

  get ended (): boolean {
    return this.#ended
  }

  /** A live frame at `pos`: written now, or after the catch-up; never one at or before lastPos. */
  live (pos: number, text: string): void {
    if (this.#queue !== undefined) {
      if (this.#queue.length >= MAX_QUEUED) return this.cut()
      this.#queue.push({ pos, text })
      return
    }
    this.event(pos, text)
  }

  /** A frame of the log, in order (replayed or live). */
  event (pos: number, text: string): void {
    if (pos <= this.lastPos) return
    this.lastPos = pos
    this.write(text)
  }

  /**
   * Sends the response's head (`head` writes it) once the stream's starting point is fixed:
   * from then on the client may act, and every later change reaches it. Text written
   * before (an online message, a ping) is dropped: the client is not connected yet.
   */
  open (head: () => void): void {
    if (this.#ended || this.#opened) return
    head()
    this.#opened = true
  }

  /** The catch-up is done: the queued live frames follow. */
  goLive (): void {
    const queued = this.#queue ?? []
    this.#queue = undefined
    for (const q of queued) this.event(q.pos, q.text)
  }

  /** Any text (a comment, an online message, reset). */
  write (text: string): void {
    if (this.#ended || !this.#opened) return
    if (this.#held !== undefined && !this.#corked) {
      if (this.#held === '') {
        this.#held = text
        return
      }
      this.#corked = true
      this.body.cork()
      this.#write(this.#held)
    }
    this.#write(text)
  }

  #write (text: string): void {
    if (this.body.writableLength > MAX_BUFFERED_BYTES) return this.cut()
    this.body.write(text)
  }

  /**
   * Frames written until release() go out in one write: a page of the log with several
   * events for this stream costs one syscall, not one each, so that a stream process that
   * falls behind catches up in fewer, larger writes. One frame is written as it is; more
   * are gathered by the socket (cork), not joined into one string (large strings to flatten
   * and collect). Answers false when it holds already.
   */
  hold (): boolean {
    if (this.#held !== undefined) return false
    this.#held = ''
    return true
  }

  /** Writes what was held. */
  release (): void {
    const one = this.#held
    this.#held = undefined
    if (this.#corked) {
      this.#corked = false
      this.body.uncork()
    } else if (one !== undefined && one !== '' && !this.#ended) this.#write(one)
  }

  /** Resolves once the reader has taken what waited beyond SLOW_BYTES (or the stream ended): a replay keeps pace with its reader. */
  async paced (): Promise<void> {
    while (!this.#ended && this.body.writableLength > SLOW_BYTES) {
      await new Promise<void>(resolve => {
        const done = () => {
          this.body.off('drain', done)
          this.body.off('close', done)
          resolve()
        }
        this.body.once('drain', done)
        this.body.once('close', done)
      })
    }
  }

  /** Called every second or so: a reader behind by SLOW_BYTES for SLOW_MS is cut. */
  checkReader (nowMs: number): void {
    if (this.body.writableLength <= SLOW_BYTES) {
      this.#slowSince = undefined
      return
    }
    this.#slowSince ??= nowMs
    if (nowMs - this.#slowSince >= SLOW_MS) this.cut()
  }

  /**
   * Ends the stream normally: what is buffered goes, then the connection closes, without
   * waiting for the reader to close its side (a reader that never does, or never reads,
   * would hold a closing server until its grace ran out).
   */
  end (): void {
    if (this.#ended) return
    if (!this.#opened) return this.cut()
    this.#ended = true
    this.body.destroySoon()
    setTimeout(() => this.body.destroy(), END_GRACE_MS).unref()
  }

  /** Drops the connection: the reader was too slow. */
  cut (): void {
    if (this.#ended) return
    this.#ended = true
    this.body.destroy()
  }
}

/** Open streams counted by the identity they count against (at most STREAMS_PER_IDENTITY each), and in all. */
export class StreamCounts {
  readonly #byOwner = new Map<string, number>()
  #total = 0

  /** Streams open in all. */
  get size (): number {
    return this.#total
  }

  of (owner: string): number {
    return this.#byOwner.get(owner) ?? 0
  }

  add (owner: string): void {
    this.#byOwner.set(owner, this.of(owner) + 1)
    this.#total++
  }

  /** One of `owner`'s streams left (never below none). */
  remove (owner: string): void {
    const left = this.of(owner) - 1
    if (left < 0) return
    if (left === 0) this.#byOwner.delete(owner)
    else this.#byOwner.set(owner, left)
    this.#total--
  }

  clear (): void {
    this.#byOwner.clear()
    this.#total = 0
  }
}
