import { randomBytes } from 'node:crypto'
import { EventType, type EventStore, type Webhook, type WebhookState, type WebhookStore } from '../../db/store.js'
import { Errors } from '../errors.js'
import type { TargetGuard } from '../media/targets.js'
import type { BeforeSend } from './before-send.js'
import type { Deliverer } from './deliverer.js'
import { newSecret, secretKey } from './signing.js'

/** The event types a webhook may subscribe to, and the bit of each. */
const TYPE_BITS: Readonly<Record<string, number>> = {
  message: 1 << EventType.Message,
  revoke: 1 << EventType.Revoke,
  read_receipt: 1 << EventType.ReadReceipt,
}
export const BEFORE_SEND = 'before_send'
export const EVENT_TYPES = [...Object.keys(TYPE_BITS), BEFORE_SEND]

export interface NewWebhook { url: string, event_types?: string[] | undefined, secret?: string | undefined }

export interface WebhookOut {
  id: string
  url: string
  event_types: string[]
  created_at: number
  pending: number
  last_success_at: number | null
  last_error: string | null
  last_error_at: number | null
}

export interface CreatedWebhook { id: string, url: string, event_types: string[], secret: string, created_at: number }

const typesOf = (h: Webhook): string[] => h.beforeSend ? [BEFORE_SEND] : Object.keys(TYPE_BITS).filter(name => (h.types & TYPE_BITS[name]!) !== 0)

const out = (h: WebhookState): WebhookOut => ({
  id: h.id,
  url: h.url,
  event_types: typesOf(h),
  created_at: h.createdAt,
  pending: h.pending,
  last_success_at: h.lastSuccessAt,
  last_error: h.lastError,
  last_error_at: h.lastErrorAt,
})

export interface WebhookServiceOptions {
  store: WebhookStore
  events: EventStore
  guard: TargetGuard
  deliverer: Deliverer
  beforeSend: BeforeSend
  /** Unix seconds now. */
  now: () => number
}

/**
 * Registering webhooks (CONTRACT §8) and keeping this process's view of them: the
 * deliverer's list and the before-send hook, read again from the store by refresh() (other
 * replicas register too).
 */
export class WebhookService {
  readonly #o: WebhookServiceOptions

  constructor (options: WebhookServiceOptions) {
    this.#o = options
  }

  /** This process's deliveries (tests wait for it to be idle). */
  get deliverer (): Deliverer {
    return this.#o.deliverer
  }

  async create (input: NewWebhook): Promise<CreatedWebhook> {
    const names = [...new Set(input.event_types ?? Object.keys(TYPE_BITS))]
    if (names.length === 0) throw Errors.invalidParameter('event_types must name at least one of ' + EVENT_TYPES.join(', '))
    const unknown = names.find(n => !EVENT_TYPES.includes(n))
    if (unknown !== undefined) throw Errors.invalidParameter(`event_types: unknown event type "${unknown}" (one of ${EVENT_TYPES.join(', ')})`)
    const beforeSend = names.includes(BEFORE_SEND)
    if (beforeSend && names.length > 1) throw Errors.invalidParameter('event_types: before_send stands alone: register it as a webhook of its own')
    this.#o.guard.check(input.url)
    const secret = input.secret ?? newSecret()
    const key = secretKey(secret)
    if (typeof key === 'string') throw Errors.invalidParameter(key)
    const hook: Webhook = {
      id: `wh_${randomBytes(12).toString('base64url')}`,
      url: input.url,
      types: beforeSend ? 0 : names.reduce((mask, n) => mask | TYPE_BITS[n]!, 0),
      beforeSend,
      secret,
      createdAt: this.#o.now(),
    }
    // It follows the log from what has committed now: every event after its answer reaches it.
    const cursor = beforeSend ? 0 : await this.#o.events.settle()
    if (!await this.#o.store.create(hook, cursor)) {
      const taken = (await this.#o.store.hooks()).find(h => h.beforeSend)
      throw Errors.beforeSendTaken(taken?.id ?? '')
    }
    await this.refresh()
    return { id: hook.id, url: hook.url, event_types: typesOf(hook), secret, created_at: hook.createdAt }
  }

  async list (): Promise<WebhookOut[]> {
    return (await this.#o.store.list()).map(out)
  }

  async get (id: string): Promise<WebhookOut> {
    const hook = await this.#o.store.get(id)
    if (hook === undefined) throw Errors.webhookNotFound(id)
    return out(hook)
  }

  async delete (id: string): Promise<void> {
    if (!await this.#o.store.delete(id)) throw Errors.webhookNotFound(id)
    await this.refresh()
  }

  /** Reads the webhooks again: the deliverer follows those that follow the log; the before-send hook is set. */
  async refresh (): Promise<void> {
    const hooks = await this.#o.store.hooks()
    this.#o.deliverer.setHooks(hooks)
    this.#o.beforeSend.set(hooks.find(h => h.beforeSend))
  }
}
