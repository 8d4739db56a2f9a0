import { randomUUID } from 'node:crypto'
import { Ajv } from 'ajv'
import type { Dispatcher } from 'undici'
import type { Webhook } from '../../db/store.js'
import type { TargetGuard } from '../media/targets.js'
import { MessageIn } from '../messages/schemas.js'
import { toContent } from '../messages/rules.js'
import { TimError } from '../errors.js'
import { post } from './post.js'
import { secretKey } from './signing.js'

/** What the before-send webhook decided (CONTRACT §8 Before send). */
export type BeforeSendDecision =
  | { action: 'allow' }
  | { action: 'reject', code: number, desc: string }
  /** `message`: the client's message with the webhook's elements (and cloud custom string), valid as a client's. */
  | { action: 'modify', message: MessageIn }
  /** The webhook's answer made an invalid message: the send fails (502 6009) with `why`. */
  | { action: 'invalid', why: string }

export type BeforeSendResult = 'ok' | 'rejected' | 'modified' | 'failed' | 'timeout'

export interface BeforeSendOptions {
  guard: TargetGuard
  /** An Agent of its own, kept alive: a send waits for this call. */
  dispatcher: Dispatcher
  /** TIM_BEFORE_SEND_TIMEOUT_MS */
  timeoutMs: number
  count: (result: BeforeSendResult) => void
}

const RESULTS = { allow: 'ok', reject: 'rejected', modify: 'modified' } as const
const DEFAULT_REJECT_CODE = 120001
const DEFAULT_REJECT_DESC = 'the message was rejected by the before-send webhook'
/** The most of an answer that is read. */
const ANSWER_LIMIT = 1024 * 1024

/** The modified message is checked as a client's body is (no coercion, unknown keys dropped). */
const validate = new Ajv({ useDefaults: true, removeAdditional: true, allErrors: false, strict: false, coerceTypes: false }).compile(MessageIn)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The before-send call: one signed POST with a fresh webhook-id per send or batch, on a
 * kept-alive connection, within the timeout; a timeout, an error or a non-2xx lets the
 * message through as it is (fail open), counted. Costs nothing while no hook is registered.
 */
export class BeforeSend {
  readonly #o: BeforeSendOptions
  #hook: { url: string, key: Buffer } | undefined

  constructor (options: BeforeSendOptions) {
    this.#o = options
  }

  /** The registered before-send webhook, or none. */
  set (hook: Webhook | undefined): void {
    const key = hook === undefined ? undefined : secretKey(hook.secret)
    this.#hook = hook === undefined || key === undefined || typeof key === 'string' ? undefined : { url: hook.url, key }
  }

  get active (): boolean {
    return this.#hook !== undefined
  }

  /**
   * Asks the hook about `message` (as it would be stored) from `sender`, whose client body
   * was `original`; `recipients` for a batch. Undefined when no hook is registered.
   */
  call (sender: string, message: Record<string, unknown>, original: MessageIn, recipients?: readonly string[]): Promise<BeforeSendDecision> | undefined {
    const hook = this.#hook
    if (hook === undefined) return undefined
    return this.#ask(hook, sender, message, original, recipients)
  }

  async #ask (hook: { url: string, key: Buffer }, sender: string, message: Record<string, unknown>, original: MessageIn, recipients?: readonly string[]): Promise<BeforeSendDecision> {
    const body = `{"event_type":"before_send","event_time":${Math.floor(Date.now() / 1000)},"event_user":${JSON.stringify(sender)},` +
      `"event_data":${JSON.stringify(message)}${recipients === undefined ? '' : `,"msg_batch_send_param_identifier_array":${JSON.stringify(recipients)}`}}`
    const result = await post(this.#o.dispatcher, this.#o.guard, hook.url, hook.key, `msg_${randomUUID()}`, body, this.#o.timeoutMs, ANSWER_LIMIT)
    if (result.kind !== 'ok') {
      this.#o.count(result.kind)
      return { action: 'allow' }
    }
    const decision = decide(result.body ?? '', original)
    this.#o.count(decision === undefined || decision.action === 'invalid' ? 'failed' : RESULTS[decision.action])
    return decision ?? { action: 'allow' }
  }
}

/** The decision an answer's body says; undefined when it says nothing that makes sense (fail open). */
export function decide (text: string, original: MessageIn): BeforeSendDecision | undefined {
  let answer: unknown
  try {
    answer = text.trim() === '' ? {} : JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isObject(answer)) return undefined
  const action = answer.action ?? 'allow'
  if (action === 'allow') return { action: 'allow' }
  if (action === 'reject') {
    const code = Number.isSafeInteger(answer.code) && answer.code !== 0 ? answer.code as number : DEFAULT_REJECT_CODE
    const desc = typeof answer.desc === 'string' && answer.desc !== '' ? answer.desc : DEFAULT_REJECT_DESC
    return { action: 'reject', code, desc }
  }
  if (action !== 'modify') return undefined
  const candidate: Record<string, unknown> = { ...original, message_elem_array: answer.message_elem_array }
  if (answer.message_cloud_custom_str !== undefined) candidate.message_cloud_custom_str = answer.message_cloud_custom_str
  if (!validate(candidate)) {
    const e = validate.errors?.[0]
    return { action: 'invalid', why: `${e?.instancePath === '' ? 'the message' : e?.instancePath ?? 'the message'} ${e?.message ?? 'is invalid'}` }
  }
  try {
    toContent(candidate as MessageIn)
  } catch (err) {
    if (err instanceof TimError) return { action: 'invalid', why: err.message }
    throw err
  }
  return { action: 'modify', message: candidate as MessageIn }
}
