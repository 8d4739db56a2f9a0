import { setTimeout as sleep } from 'node:timers/promises'
import type { Dispatcher } from 'undici'
import type { Delivery, DeliveryOutcome, EventStore, MessageStore, Webhook, WebhookStore } from '../../db/store.js'
import { appEnvelope, pageContext, type PageContext, type ViewOf } from '../events/envelope.js'
import type { TargetGuard } from '../media/targets.js'
import { GIVE_UP_AFTER_MS, retryDelayMs } from './schedule.js'
import { post } from './post.js'
import { secretKey } from './signing.js'

/** Events fed from the log at a time. */
const PAGE = 500
/** Attempts in flight per webhook: a slow endpoint holds its own, never another's. */
export const PER_HOOK_IN_FLIGHT = 128
/** A claimed delivery is this long past the webhook timeout before another claim may take it (its process died). */
const LEASE_MARGIN_MS = 10_000
/**
 * New events and outcomes are gathered this long before they are fed, recorded and the free
 * slots claimed: at 5,500 deliveries a second, a feed, a settle and two claims ran ~830 times
 * a second each (a claim per ~4 deliveries), most of them a transaction of their own.
 */
export const GATHER_MS = 5

export interface DelivererMetrics {
  webhookDelivery (result: 'ok' | 'failed' | 'timeout', retried: boolean): void
  webhookDropped (): void
}

export interface DelivererOptions {
  store: WebhookStore
  events: EventStore
  messages: MessageStore
  /** How a user sees a message (the message service's view). */
  view: ViewOf
  guard: TargetGuard
  dispatcher: Dispatcher
  /** TIM_WEBHOOK_TIMEOUT_MS */
  timeoutMs: number
  /** Milliseconds now: the retry schedule's clock (tests move it). */
  clock: () => number
  random: () => number
  metrics: DelivererMetrics
  onError: (err: unknown) => void
}

interface Hook extends Webhook {
  key: Buffer
  inFlight: number
  claiming: boolean
  again: boolean
}

/**
 * Delivers what the webhooks are owed: feeds the event log into the deliveries table (the
 * store moves each webhook's cursor in that write), claims due deliveries per webhook
 * (PER_HOOK_IN_FLIGHT at most), POSTs each signed, and records the outcomes a batch at a
 * time. Any process may run one: claims are leased in the database.
 */
export class Deliverer {
  readonly #o: DelivererOptions
  readonly #hooks = new Map<string, Hook>()
  #pumping: Promise<void> | undefined
  #again = false
  #stopped = false
  #closed = false
  #outcomes: Array<{ hook: Hook, outcome: DeliveryOutcome }> = []
  #attempts = new Set<Promise<void>>()
  #flushing: Promise<void> | undefined
  #flushTimer: NodeJS.Timeout | undefined
  /** Claims started after a flush, still running. */
  #claims = 0

  constructor (options: DelivererOptions) {
    this.#o = options
  }

  /** The webhooks that follow the log now (the before-send hook is not one). */
  setHooks (hooks: readonly Webhook[]): void {
    const seen = new Set<string>()
    for (const h of hooks) {
      if (h.beforeSend) continue
      seen.add(h.id)
      const known = this.#hooks.get(h.id)
      if (known !== undefined) continue
      const key = secretKey(h.secret)
      if (typeof key === 'string') continue
      this.#hooks.set(h.id, { ...h, key, inFlight: 0, claiming: false, again: false })
    }
    for (const id of this.#hooks.keys()) if (!seen.has(id)) this.#hooks.delete(id)
  }

  get following (): number {
    return this.#hooks.size
  }

  /** New events, due retries or free slots: feed and claim. */
  kick (): void {
    if (this.#stopped) return
    if (this.#pumping !== undefined) {
      this.#again = true
      return
    }
    this.#pumping = sleep(GATHER_MS).then(async () => {
      // What the kicks while gathering announced, this pump reads.
      this.#again = false
      return this.#pump()
    }).catch(this.#o.onError).finally(() => {
      this.#pumping = undefined
      if (this.#again) {
        this.#again = false
        this.kick()
      }
    })
  }

  /** Resolves when nothing is being fed, claimed, attempted or recorded (tests). */
  async idle (): Promise<void> {
    while (this.#pumping !== undefined || this.#attempts.size > 0 || this.#outcomes.length > 0 || this.#flushing !== undefined || this.#claims > 0) {
      await this.#pumping
      await Promise.all([...this.#attempts])
      await this.#flushing
      await new Promise(resolve => setImmediate(resolve))
    }
  }

  /**
   * No new claims; attempts in flight get `graceMs` to finish and be recorded, the others
   * are abandoned to their leases (tried again: at least once).
   */
  async stop (graceMs: number): Promise<void> {
    this.#stopped = true
    await this.#pumping
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.all([...this.#attempts]), new Promise(resolve => { timer = setTimeout(resolve, graceMs) })])
    clearTimeout(timer)
    await new Promise(resolve => setImmediate(resolve))
    // Outcomes still gathering are recorded now, and those that ended meanwhile; attempts
    // ending after this are not recorded (their leases run out: tried again, at least once).
    while (this.#flushTimer !== undefined || this.#flushing !== undefined) {
      if (this.#flushTimer !== undefined) this.#startFlush()
      await this.#flushing
    }
    this.#closed = true
  }

  async #pump (): Promise<void> {
    if (this.#hooks.size === 0) return
    for (;;) {
      const after = await this.#o.store.cursor()
      if (after === undefined) break
      const page = await this.#o.events.read(after, PAGE)
      if (page.length === 0) break
      await this.#o.store.feed(page, this.#o.clock())
      if (page.length < PAGE) break
    }
    await Promise.all([...this.#hooks.values()].map(async h => this.#claim(h)))
  }

  async #claim (hook: Hook): Promise<void> {
    if (hook.claiming) {
      hook.again = true
      return
    }
    hook.claiming = true
    try {
      while (!this.#stopped && this.#hooks.get(hook.id) === hook) {
        hook.again = false
        const free = PER_HOOK_IN_FLIGHT - hook.inFlight
        if (free <= 0) return
        const now = this.#o.clock()
        const claimed = await this.#o.store.claim(hook.id, free, now, now + this.#o.timeoutMs + LEASE_MARGIN_MS)
        if (claimed.length > 0) await this.#start(hook, claimed)
        if (claimed.length < free && !hook.again) return
      }
    } finally {
      hook.claiming = false
    }
  }

  async #start (hook: Hook, claimed: Delivery[]): Promise<void> {
    hook.inFlight += claimed.length
    let ctx: PageContext
    try {
      ctx = await pageContext(this.#o.messages, claimed.map(d => d.event))
    } catch (err) {
      // Their leases run out, and they are claimed again.
      hook.inFlight -= claimed.length
      throw err
    }
    for (const d of claimed) {
      const attempt = this.#attempt(hook, d, ctx)
      this.#attempts.add(attempt)
      void attempt.finally(() => this.#attempts.delete(attempt))
    }
  }

  async #attempt (hook: Hook, d: Delivery, ctx: PageContext): Promise<void> {
    const base = { webhookId: hook.id, pos: d.event.pos, convKey: d.event.convKey }
    const body = appEnvelope(d.event, ctx, this.#o.view)
    const at = () => Math.floor(this.#o.clock() / 1000)
    // Its message is gone: nothing to say.
    if (body === undefined) return this.#record(hook, { ...base, result: 'done', at: at() })
    const result = await post(this.#o.dispatcher, this.#o.guard, hook.url, hook.key, String(d.event.pos), body, this.#o.timeoutMs)
    this.#o.metrics.webhookDelivery(result.kind, d.attempts > 0)
    if (result.kind === 'ok') return this.#record(hook, { ...base, result: 'done', at: at() })
    const now = this.#o.clock()
    const failingSince = d.failingSince ?? now
    if (now - failingSince >= GIVE_UP_AFTER_MS) {
      this.#o.metrics.webhookDropped()
      return this.#record(hook, { ...base, result: 'drop', at: at(), error: `dropped after failing for 24 h: ${result.error}` })
    }
    const dueAt = now + retryDelayMs(d.attempts + 1, this.#o.random())
    this.#record(hook, { ...base, result: 'retry', at: at(), dueAt, failingSince, error: result.error })
  }

  /** Outcomes are written a batch at a time: one write for all that ended within GATHER_MS. */
  #record (hook: Hook, outcome: DeliveryOutcome): void {
    if (this.#closed) return
    if (this.#outcomes.push({ hook, outcome }) !== 1) return
    this.#flushTimer = setTimeout(() => this.#startFlush(), GATHER_MS)
  }

  #startFlush (): void {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    if (this.#closed) {
      this.#outcomes = []
      return
    }
    const flushing = this.#flush().finally(() => { if (this.#flushing === flushing) this.#flushing = undefined })
    this.#flushing = flushing
  }

  async #flush (): Promise<void> {
    const batch = this.#outcomes
    this.#outcomes = []
    try {
      await this.#o.store.settle(batch.map(b => b.outcome), this.#o.clock())
    } catch (err) {
      // Unrecorded: their leases run out and they are tried again (at least once).
      this.#o.onError(err)
    }
    const hooks = new Set<Hook>()
    for (const { hook } of batch) {
      hook.inFlight--
      hooks.add(hook)
    }
    for (const hook of hooks) {
      this.#claims++
      this.#claim(hook).catch(this.#o.onError).finally(() => { this.#claims-- })
    }
  }
}
