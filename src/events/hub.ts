import { EventType, type EventStore, type HistoryPosition, type LoggedEvent, type MessageStore, type StoredMessage } from '../../db/store.js'
import { appViewer, envelope, frame, messageKey, pageContext, render, resetEnvelope, type PageContext, type ViewCache, type ViewOf } from './envelope.js'
import { StreamCounts, type EventStream } from './stream.js'

/** Events read from the log at a time. */
const PAGE = 500
/** Streams one identity may have open at once (CONTRACT §8). */
export const STREAMS_PER_IDENTITY = 10

export interface EventHubOptions {
  events: EventStore
  messages: MessageStore
  /** How a user sees a message (the message service's view). */
  view: ViewOf
  /** Called with an error when reading the log fails (the hub tries again at the next wake-up). */
  onError: (err: unknown) => void
  /** Called once when a stream leaves (the stream process tells the gateway, which counts streams per identity). */
  onLeave?: (stream: EventStream) => void
}

/**
 * This process's side of the event stream: it follows the log from its newest position and
 * hands each event, rendered, to the streams of the users who receive it (C2C: both users;
 * a group: its members at that event, known from the log's membership events), and every
 * event to the app streams. One reader of the log per process, whatever the number of
 * streams. A stream that resumes replays its part of the log first, then goes live with
 * no gap and no repeat (EventStream queues the live frames meanwhile).
 */
export class EventHub {
  readonly #events: EventStore
  readonly #messages: MessageStore
  readonly #view: ViewOf
  readonly #onError: (err: unknown) => void
  readonly #onLeave: ((stream: EventStream) => void) | undefined
  readonly #byUser = new Map<string, Set<EventStream>>()
  readonly #app = new Set<EventStream>()
  readonly #owners = new StreamCounts()
  /** Group members as of #head, for the groups seen so far. */
  readonly #members = new Map<string, Set<string>>()
  #head = 0
  /** Streams attached so far: a delivery that awaited sees whether one came meanwhile. */
  #attached = 0
  #pumping: Promise<void> | undefined
  #again = false
  #unsubscribe: () => void = () => {}

  constructor (options: EventHubOptions) {
    this.#events = options.events
    this.#messages = options.messages
    this.#view = options.view
    this.#onError = options.onError
    this.#onLeave = options.onLeave
  }

  /** Starts following the log from its newest position. */
  async start (): Promise<void> {
    this.#head = (await this.#events.bounds()).newest
    this.#unsubscribe = this.#events.subscribe(() => this.wake())
  }

  stop (): void {
    this.#unsubscribe()
    for (const s of this.streams()) s.end()
  }

  /** Every stream open now. */
  * streams (): Iterable<EventStream> {
    yield * this.#app
    for (const set of this.#byUser.values()) yield * set
  }

  /** New events may be readable. */
  wake (): void {
    if (this.#pumping !== undefined) {
      this.#again = true
      return
    }
    this.#pumping = this.#pump().catch(this.#onError).finally(() => {
      this.#pumping = undefined
      if (this.#again) {
        this.#again = false
        this.wake()
      }
    })
  }

  /** Streams open here. */
  get size (): number {
    return this.#owners.size
  }

  /** Streams of `owner` open here (at most STREAMS_PER_IDENTITY with those of the stream process). */
  streamsOf (owner: string): number {
    return this.#owners.of(owner)
  }

  /**
   * Adds a stream: live from now (`after` undefined), or replaying what came after `after`
   * first. `head` writes the response's head: it is called once the starting point is
   * fixed, so that whatever the client does after seeing the stream open reaches it.
   * Resolves once the stream is live.
   */
  async attach (stream: EventStream, after: string | undefined, head: () => void): Promise<void> {
    this.#attached++
    this.#owners.add(stream.owner)
    const set = stream.user === undefined ? this.#app : this.#byUser.get(stream.user) ?? new Set()
    if (stream.user !== undefined) this.#byUser.set(stream.user, set)
    set.add(stream)
    // Once only: the connection may close while a start that then fails is still reading.
    let released = false
    const release = () => {
      if (released) return
      released = true
      set.delete(stream)
      if (stream.user !== undefined && set.size === 0) this.#byUser.delete(stream.user)
      this.#owners.remove(stream.owner)
      this.#onLeave?.(stream)
    }
    stream.body.on('close', release)
    try {
      // Everything after the hub's position reaches the stream live; a replay covers up to it.
      // Live from now: after what had committed when the stream came, which is fixed before
      // the client learns the stream is open (a change it makes after that comes later).
      const from = this.#head
      stream.lastPos = from
      if (after === undefined) stream.lastPos = Math.max(from, await this.#events.settle())
      stream.open(head)
      if (after !== undefined) await this.#replay(stream, after, from)
      stream.goLive()
    } catch (err) {
      // Never opened: the request is answered with the error and its connection may live on
      // (kept alive), so the stream leaves now rather than when the connection closes.
      if (!stream.opened) {
        stream.body.off('close', release)
        release()
        stream.abandon()
      }
      throw err
    }
  }

  /** An online message: to the streams connected now, with the id of the last event each has (never replayed). */
  online (m: StoredMessage, recipients: readonly string[]): void {
    const points = new Map<string, HistoryPosition>()
    const type = 'message'
    for (const user of new Set(recipients)) {
      for (const s of this.#byUser.get(user) ?? []) {
        s.write(frame(s.lastPos, type, envelope(s.lastPos, type, m.serverTime, user, this.#view(m, user, points))))
      }
    }
    for (const s of this.#app) s.write(frame(s.lastPos, type, envelope(s.lastPos, type, m.serverTime, m.sender, this.#view(m, m.sender, points))))
  }

  async #replay (stream: EventStream, after: string, head: number): Promise<void> {
    const bounds = await this.#events.bounds()
    let from = /^\d{1,16}$/.test(after) ? Number(after) : Number.NaN
    // Not a position the gateway gave (ahead of the log, not a number), or one whose next
    // events are gone: a reset, then the oldest kept event on.
    const first = (bounds.oldest ?? bounds.newest + 1) - 1
    if (Number.isNaN(from) || from > bounds.newest || from < first) {
      stream.write(frame(undefined, 'reset', resetEnvelope(stream.user ?? '')))
      from = first
    }
    stream.lastPos = from
    while (from < head && !stream.ended) {
      const page = stream.user === undefined
        ? (await this.#events.read(from, PAGE)).filter(e => e.type !== EventType.Membership)
        : await this.#events.readFor(stream.user, from, PAGE)
      const todo = page.filter(e => e.pos <= head)
      if (todo.length === 0) break
      const ctx = await this.#context(todo)
      for (const e of todo) {
        const text = this.#frameFor(e, stream.user, ctx)
        if (text !== undefined) stream.event(e.pos, text)
        await stream.paced()
      }
      from = todo.at(-1)!.pos
      if (page.length < PAGE || todo.length < page.length) break
    }
    // Nothing more of its own up to `head`: live frames after it follow.
    stream.lastPos = Math.max(stream.lastPos, head)
  }

  #frameFor (e: LoggedEvent, user: string | undefined, ctx: PageContext): string | undefined {
    if (user !== undefined) return render(e, user, ctx, this.#view)
    const m = e.messageId === null ? undefined : ctx.messages.get(messageKey(e.convKey, e.messageId))
    return m === undefined ? undefined : render(e, appViewer(e, m), ctx, this.#view)
  }

  /** The messages and read points a page of events renders with. */
  async #context (page: readonly LoggedEvent[]): Promise<PageContext> {
    return pageContext(this.#messages, page)
  }

  async #pump (): Promise<void> {
    if (this.#app.size === 0 && this.#byUser.size === 0) {
      const newest = (await this.#events.bounds()).newest
      // No one to hear it: only the position moves (the member lists would go stale). A
      // stream that came meanwhile took the old head as its replay's end: then deliver.
      if (this.#app.size === 0 && this.#byUser.size === 0) {
        this.#members.clear()
        this.#head = Math.max(this.#head, newest)
        return
      }
    }
    for (;;) {
      const page = await this.#events.read(this.#head, PAGE)
      if (page.length === 0) return
      await this.#deliver(page)
      if (page.length < PAGE) return
    }
  }

  /** Whether a user stream here receives `e` (a group's: a member as of the page's start). */
  #heard (e: LoggedEvent): boolean {
    const users = e.users ?? this.#members.get(e.convKey) ?? []
    for (const user of users) if (this.#byUser.has(user)) return true
    return false
  }

  /** Recipients of each event, rendered and written; group members kept up to date on the way. */
  async #deliver (page: readonly LoggedEvent[]): Promise<void> {
    const last = page.at(-1)!.pos
    const listening = this.#app.size > 0 || this.#byUser.size > 0
    if (!listening) {
      // No one to hear it: the member lists would only go stale.
      this.#members.clear()
      this.#head = last
      return
    }
    // Members of each group as of the page's start, for the groups not known yet.
    const groups = [...new Set(page.filter(e => e.users === null).map(e => e.convKey))].filter(k => !this.#members.has(k))
    const loaded = await Promise.all(groups.map(k => this.#events.membersAt(k, this.#head)))
    groups.forEach((k, i) => this.#members.set(k, new Set(loaded[i])))
    // Messages and read points only for the events some stream here receives.
    // (A group whose members change within the page counts as heard: its members are known as of the page's start.)
    const changing = new Set(page.filter(e => e.type === EventType.Membership).map(e => e.convKey))
    let heard = this.#app.size > 0 ? page : page.filter(e => changing.has(e.convKey) || this.#heard(e))
    let attached = this.#attached
    let ctx = await this.#context(heard)
    // A stream that attached meanwhile replays only up to #head: this page's events reach it
    // from here, so none may have been left out. Read again, for the whole page.
    while (attached !== this.#attached) {
      attached = this.#attached
      heard = page
      ctx = await this.#context(heard)
    }
    // Each stream's frames of this page go in one write.
    const held: EventStream[] = []
    const deliver = (s: EventStream, pos: number, text: string) => {
      if (s.hold()) held.push(s)
      s.live(pos, text)
    }
    for (const e of heard) {
      if (e.type === EventType.Membership) {
        const members = this.#members.get(e.convKey)!
        if (e.role === null) members.delete(e.actor ?? '')
        else members.add(e.actor ?? '')
        continue
      }
      const recipients = e.users ?? this.#members.get(e.convKey) ?? []
      // A group's members mostly share a view; a C2C event's two users never do.
      const views: ViewCache | undefined = e.users === null ? new Map() : undefined
      for (const user of recipients) {
        const streams = this.#byUser.get(user)
        if (streams === undefined) continue
        const text = render(e, user, ctx, this.#view, views)
        if (text !== undefined) for (const s of streams) deliver(s, e.pos, text)
      }
      if (this.#app.size > 0) {
        const text = this.#frameFor(e, undefined, ctx)
        if (text !== undefined) for (const s of this.#app) deliver(s, e.pos, text)
      }
    }
    for (const s of held) s.release()
    // In the same turn as the last frame: a stream attached after this replays up to here.
    this.#head = last
  }
}
