import type { Delivery, DeliveryOutcome, EventType, LoggedEvent, Origin, StoredMessage, StoredUpload, WebhookState } from './store.js'

/** A messages row as both adapters select it (with the viewer's `deleted` flag). */
export interface MessageRow {
  id: number
  conv_key: string
  seq: number
  sender: string
  owner: string | null
  server_time: number
  client_time: number
  rand: number
  status: number
  origin: number
  revoker: string | null
  /** SQLite answers 0/1, PostgreSQL a boolean. */
  deleted: boolean | number
  content: string
}

/** A row mapped field by field to the port's StoredMessage. */
export function rowToMessage (row: MessageRow): StoredMessage {
  return {
    id: row.id,
    convKey: row.conv_key,
    seq: row.seq,
    sender: row.sender,
    owner: row.owner,
    serverTime: row.server_time,
    clientTime: row.client_time,
    rand: row.rand,
    status: row.status,
    origin: row.origin as Origin,
    revoker: row.revoker,
    deleted: row.deleted === true || row.deleted === 1,
    content: knownContent(row.content),
  }
}

/** A stored content, parsed, keeping the text it was read from (what a view is written from). */
const knownContent = (text: string): StoredMessage['content'] => {
  const content = JSON.parse(text) as StoredMessage['content']
  knownContentJson(content, text)
  return content
}

/**
 * Where a content object keeps the JSON text it is stored as, once made: on the object
 * itself (contents are never changed once made), not in a WeakMap, whose set, get and
 * ephemeron upkeep in the collector cost more than the text itself on an import of 1000.
 * A symbol property, not enumerable: JSON.stringify, for…in, Object.keys, spreads and
 * deep comparisons do not see it (a spread copy of a content, changed, carries no stale text).
 */
const TEXT = Symbol('contentJson')
type Texted = StoredMessage['content'] & { [TEXT]?: string }

/**
 * Records `text` as the JSON of `content`, for a caller that made it from parts it had
 * serialized anyway (or read it so from a row): it must be exactly what
 * JSON.stringify(content) answers (a derived import rand hashes it).
 */
export function knownContentJson (content: StoredMessage['content'], text: string): string {
  Object.defineProperty(content, TEXT, { value: text })
  return text
}

/**
 * A message's content as the JSON text it is stored as, made once per content object: a
 * batch send stores one content for up to 500 recipients, and an import's contents are
 * serialized ahead, in slices, before the write that stores them.
 */
export function contentJson (content: StoredMessage['content']): string {
  return (content as Texted)[TEXT] ?? knownContentJson(content, JSON.stringify(content))
}

/** The JSON text `content` is known by (made or read), if any: a view serializes its content from it. */
export const knownJsonOf = (content: StoredMessage['content']): string | undefined => (content as Texted)[TEXT]

/** An event row as both adapters select it (joined with its conversation's participants). */
export interface EventRow {
  pos: number, type: number, conv_key: string, user_a: string | null, user_b: string | null,
  message_id: number | null, actor: string | null, role?: number | null, at: number
}

export function rowToEvent (r: EventRow): LoggedEvent {
  return {
    pos: r.pos,
    type: r.type as EventType,
    convKey: r.conv_key,
    users: r.user_a === null || r.user_b === null ? null : [r.user_a, r.user_b],
    messageId: r.message_id,
    actor: r.actor,
    role: r.role ?? null,
    at: r.at,
  }
}

/** A delivery owed to a webhook: its event's row and how its attempts went. */
export interface DeliveryRow extends EventRow { webhook_id: string, attempts: number, failing_since: number | null }

export function rowToDelivery (r: DeliveryRow): Delivery {
  return { webhookId: r.webhook_id, event: rowToEvent(r), attempts: r.attempts, failingSince: r.failing_since }
}

/** A webhook's row; `before_send` is 0/1 on SQLite, a boolean on PostgreSQL. */
export interface WebhookRow {
  id: string, url: string, types: number, before_send: boolean | number, secret: string, created_at: number,
  last_success_at: number | null, last_error: string | null, last_error_at: number | null, pending: number
}

export function rowToWebhook (r: WebhookRow): WebhookState {
  return {
    id: r.id,
    url: r.url,
    types: r.types,
    beforeSend: r.before_send === true || r.before_send === 1,
    secret: r.secret,
    createdAt: r.created_at,
    pending: r.pending,
    lastSuccessAt: r.last_success_at,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at,
  }
}

/** An uploads row as both adapters select it. */
export interface UploadRow { id: string, owner: string, sha256: string, size: number, content_type: string, object_key: string, created: number }

export function rowToUpload (r: UploadRow): StoredUpload {
  return { id: r.id, owner: r.owner, sha256: r.sha256, size: r.size, contentType: r.content_type, objectKey: r.object_key, created: r.created }
}

/**
 * What a batch of outcomes says of each webhook's status: its latest success and its latest
 * error (a retry or a drop), one update each, not one per outcome.
 */
export function latestOutcomes (outcomes: readonly DeliveryOutcome[]): DeliveryOutcome[] {
  const latest = new Map<string, DeliveryOutcome>()
  for (const o of outcomes) latest.set(`${o.webhookId}\n${o.result === 'done' ? 'ok' : 'error'}`, o)
  return [...latest.values()]
}
