/**
 * The store port: everything the message service needs from a database, asynchronous
 * so that the SQLite and PostgreSQL adapters share it. Adapters map rows to these
 * shapes field by field; nothing here knows HTTP.
 */

/** The client-given part of a message that is stored as one JSON document. */
export type MessageContent = Record<string, unknown> & { message_elem_array: Array<Record<string, unknown>> }

/** How a message entered the history. */
export const Origin = { Sent: 0, Imported: 1, Saved: 2, Server: 3 } as const
export type Origin = typeof Origin[keyof typeof Origin]

export interface StoredMessage {
  /** message_unique_id: positive, below 2^53, never reused. */
  id: number
  convKey: string
  /** 1, 2, 3 … per conversation; 0 for a saved message. */
  seq: number
  sender: string
  /** Set for a saved message: the only user who sees it. */
  owner: string | null
  serverTime: number
  clientTime: number
  rand: number
  /** TIMMsgStatus as stored: 2 sent, 5 imported/saved, 6 revoked. */
  status: number
  origin: Origin
  revoker: string | null
  /** The viewer deleted it for itself (only found by locator or id then). */
  deleted: boolean
  content: MessageContent
}

export interface NewMessage {
  convKey: string
  sender: string
  owner: string | null
  serverTime: number
  clientTime: number
  rand: number
  status: number
  origin: Origin
  /** Bit n set when the message has an element of TIMElemType n. */
  elemMask: number
  content: MessageContent
}

/** A position in a conversation's history order (server_time, seq, id). */
export interface HistoryPosition { serverTime: number, seq: number, id: number }

export interface HistoryQuery {
  convKey: string
  /** Whose view: saved messages of others and the viewer's deletions are skipped. */
  viewer: string
  /** Exclusive anchor; none starts at the newest (backward) or the oldest (forward). */
  after?: HistoryPosition
  forward: boolean
  limit: number
  /** Inclusive lower bound and exclusive upper bound on server_time. */
  timeFrom?: number
  timeTo?: number
  /** Only messages having an element of one of these types (a bit mask). */
  elemMask?: number
}

export interface Locator { seq: number, rand: number, time: number }

export const GroupRole = { Member: 0, Admin: 1, Owner: 2 } as const
export type GroupRole = typeof GroupRole[keyof typeof GroupRole]

export interface Group {
  groupId: string
  name: string
  owner: string
  /** Every member with its role, in the order they joined. */
  members: Array<{ userId: string, role: GroupRole }>
}

/** A membership change: set a user's role, or remove the user (role null). */
export interface GroupChange { userId: string, role: GroupRole | null }

export type IdempotencyClaim =
  | { state: 'claimed' }
  | { state: 'mismatch' }
  | { state: 'pending' }
  | { state: 'done', status: number, body: string }

export interface Store {
  readonly kind: string
  /**
   * Stores messages in one transaction, allocating each shared message the next seq
   * of its conversation and saved ones seq 0. All or nothing. An imported message
   * whose sender, time and rand are already imported there comes back as stored.
   */
  insertMessages (messages: NewMessage[]): Promise<StoredMessage[]>
  /** A fresh unique id for a message that is never stored (online messages). */
  allocateId (): Promise<number>
  /** A message by its unique id, if it is in that conversation and visible to viewer. */
  getMessage (convKey: string, viewer: string, id: number): Promise<StoredMessage | undefined>
  /** One answer per locator, in order; undefined where nothing visible matches. */
  findByLocators (convKey: string, viewer: string, locators: Locator[]): Promise<Array<StoredMessage | undefined>>
  /** The newest visible message of a conversation (deleted or not). */
  newest (convKey: string, viewer: string): Promise<StoredMessage | undefined>
  /** A page of history in walking order, without the viewer's deletions. */
  listHistory (query: HistoryQuery): Promise<StoredMessage[]>
  /** Revokes: status 6, content emptied (its media references too), revoker recorded. */
  revoke (id: number, revoker: string): Promise<void>
  /**
   * The newest message `viewer` may see whose media elements carry `ref` as an id or url
   * value (mediaRefsOf): a C2C message of a thread `viewer` is in, a message of a group it
   * is a member of now, or a saved message it owns. Revoked messages carry none.
   */
  findMessageByRef (ref: string, viewer: string, anyGroup?: boolean): Promise<StoredMessage | undefined>
  /** Moves a user's read point forward to `to`; never backward. */
  markRead (convKey: string, userId: string, to: HistoryPosition): Promise<void>
  readPoint (convKey: string, userId: string): Promise<HistoryPosition | undefined>
  deleteFor (convKey: string, userId: string, messageId: number): Promise<void>
  /** Deletes, for the user, every message the conversation holds now. */
  clearFor (convKey: string, userId: string): Promise<void>

  createGroup (group: Group, tips: NewMessage | undefined): Promise<boolean>
  getGroup (groupId: string): Promise<Group | undefined>
  /**
   * Applies a membership change and appends its group-tips message, atomically;
   * false (and nothing written) when the user already has that role (or is already out).
   */
  changeGroup (groupId: string, change: GroupChange, tips: NewMessage): Promise<boolean>

  /** Takes an Idempotency-Key for a request, or says what became of it before. */
  claimIdempotencyKey (owner: string, key: string, requestHash: string, now: number): Promise<IdempotencyClaim>
  releaseIdempotencyKey (owner: string, key: string): Promise<void>
  /** Records a response; the message ids in its body (msgIdsIn) are kept for scrubbing. */
  completeIdempotencyKey (owner: string, key: string, status: number, body: string): Promise<void>
  /** Rewrites every recorded response that carries message `msgId` (a revoked message). */
  scrubIdempotentResponses (msgId: string, scrub: (body: string) => string): Promise<void>

  /** Liveness: resolves when the database answers. */
  ping (): Promise<void>
  close (): Promise<void>
}

const MAX = Number.MAX_SAFE_INTEGER

/** a comes before b in history order. */
export const before = (a: HistoryPosition, b: HistoryPosition): boolean =>
  a.serverTime !== b.serverTime ? a.serverTime < b.serverTime : a.seq !== b.seq ? a.seq < b.seq : a.id < b.id

export const positionOf = (m: StoredMessage): HistoryPosition => ({ serverTime: m.serverTime, seq: m.seq, id: m.id })

/**
 * The exclusive lower and upper positions of a history query: the anchor on the side
 * it walks away from, narrowed by the time range. Shared by the adapters.
 */
export function historyBounds (q: HistoryQuery): { lo: HistoryPosition, hi: HistoryPosition } {
  let lo: HistoryPosition = { serverTime: (q.timeFrom ?? 0) - 1, seq: MAX, id: MAX }
  let hi: HistoryPosition = { serverTime: q.timeTo ?? MAX, seq: -1, id: -1 }
  if (q.after !== undefined) {
    if (q.forward && before(lo, q.after)) lo = q.after
    if (!q.forward && before(q.after, hi)) hi = q.after
  }
  return { lo, hi }
}

/** By TIMElemType (1 image, 2 sound, 4 file, 9 video): the keys that hold a media element's bytes by reference (CONTRACT §5). */
export const MEDIA_REFS_BY_TYPE: Readonly<Record<number, readonly string[]>> = {
  1: ['image_elem_orig_id', 'image_elem_orig_url', 'image_elem_large_id', 'image_elem_large_url', 'image_elem_thumb_id', 'image_elem_thumb_url'],
  2: ['sound_elem_file_id', 'sound_elem_url'],
  4: ['file_elem_file_id', 'file_elem_url'],
  9: ['video_elem_video_id', 'video_elem_video_url', 'video_elem_image_id', 'video_elem_image_url'],
}
const MEDIA_REF_KEYS: readonly string[] = Object.values(MEDIA_REFS_BY_TYPE).flat()

/** Every distinct non-empty id/url value of a message's media elements: what findMessageByRef finds it by. */
export function mediaRefsOf (content: MessageContent): string[] {
  const refs = new Set<string>()
  for (const elem of content.message_elem_array) {
    for (const key of MEDIA_REF_KEYS) {
      const v = elem[key]
      if (typeof v === 'string' && v !== '') refs.add(v)
    }
  }
  return [...refs]
}

const MSG_ID_IN_JSON = /"message_msg_id":"([^"\\]*)"/g

/** The distinct message_msg_id values anywhere in a recorded JSON response. */
export const msgIdsIn = (body: string): string[] => [...new Set(Array.from(body.matchAll(MSG_ID_IN_JSON), m => m[1]!))]

/** Idempotency keys are kept this long (CONTRACT §7). */
export const IDEMPOTENCY_TTL_S = 24 * 3600
/**
 * A key still pending after this long belongs to a request that died (a crash between
 * its write and the record of its response): the same request may take it over.
 */
export const IDEMPOTENCY_PENDING_S = 60
