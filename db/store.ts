/**
 * The store port: everything the message service needs from a database, asynchronous
 * so that the SQLite and PostgreSQL adapters share it. Adapters map rows to these
 * shapes field by field; nothing here knows HTTP.
 */

/** The client-given part of a message that is stored as one JSON document. */
export type MessageContent = Record<string, unknown> & { message_elem_array: Array<Record<string, unknown>> }

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
  /** Bit n set when the message has an element of TIMElemType n. */
  elemMask: number
  content: MessageContent
}

/** A position in a conversation's history order (server_time, seq, id). */
export interface HistoryPosition { serverTime: number, seq: number, id: number }

export interface HistoryQuery {
  convKey: string
  /** Whose view: saved messages of others are invisible. */
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

const MAX = Number.MAX_SAFE_INTEGER
const before = (a: HistoryPosition, b: HistoryPosition) =>
  a.serverTime !== b.serverTime ? a.serverTime < b.serverTime : a.seq !== b.seq ? a.seq < b.seq : a.id < b.id

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

export interface Locator { seq: number, rand: number, time: number }

export interface Store {
  /**
   * Stores messages in one transaction, allocating each shared message the next seq
   * of its conversation (owner === null) and saved ones seq 0. All or nothing.
   */
  insertMessages (messages: NewMessage[]): Promise<StoredMessage[]>
  /** A message by its unique id, if it is in that conversation and visible to viewer. */
  getMessage (convKey: string, viewer: string, id: number): Promise<StoredMessage | undefined>
  /** One answer per locator, in order; undefined where nothing visible matches. */
  findByLocators (convKey: string, viewer: string, locators: Locator[]): Promise<Array<StoredMessage | undefined>>
  /** A page of history in walking order. */
  listHistory (query: HistoryQuery): Promise<StoredMessage[]>
  /** Liveness: resolves when the database answers. */
  ping (): Promise<void>
  close (): Promise<void>
}
