/**
 * The store ports: what the services need from a database, one small asynchronous
 * interface per capability, so that the SQLite and PostgreSQL adapters share them (and a
 * contract suite, test/store/, holds both to them). The ports take data, not the SDK's
 * JSON: conversation keys are opaque, participants come as columns, the content of a
 * message is a document the store keeps and gives back as it was given.
 */

/** The client-given part of a message that is stored as one JSON document. */
export type MessageContent = Record<string, unknown> & { message_elem_array: Array<Record<string, unknown>> }

/** How a message entered the history. */
export const Origin = { Sent: 0, Imported: 1, Saved: 2, Server: 3 } as const
export type Origin = typeof Origin[keyof typeof Origin]

/**
 * A conversation as the store keeps it: an opaque key (the services make it) and who
 * takes part. A C2C thread names its two users; a group has none here, its members are
 * the group's (GroupStore).
 */
export interface ConvRef {
  key: string
  users?: readonly [string, string]
}

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
  /** The status as the service stored it. */
  status: number
  origin: Origin
  revoker: string | null
  /** The viewer deleted it for itself (only found by locator or id then). */
  deleted: boolean
  content: MessageContent
}

export interface NewMessage {
  conv: ConvRef
  sender: string
  owner: string | null
  serverTime: number
  clientTime: number
  rand: number
  status: number
  origin: Origin
  /** Bit n set when the message has an element of type n (history filters on it). */
  elemMask: number
  content: MessageContent
  /** The id and url values of its media elements: what MessageStore.findByRef finds it by. */
  refs: readonly string[]
  /** It is news: a `message` event goes into the log with it (sent and server-made messages). */
  event: boolean
}

/** What a revoke leaves of a message: the service decides its form. */
export interface Tombstone {
  status: number
  revoker: string
  content: MessageContent
  elemMask: number
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

/** Messages as insert stored them, and a read point as of the write (MessageStore.insertReading). */
export interface Written { stored: StoredMessage[], readPoint: HistoryPosition | undefined }

export interface MessageStore {
  /**
   * Stores messages in one transaction, allocating each shared message the next seq of
   * its conversation and saved ones seq 0; ids grow in commit order. All or nothing. An
   * imported message whose sender, time and rand are already imported there (or earlier
   * in the same call) comes back as stored.
   */
  insert (messages: NewMessage[]): Promise<StoredMessage[]>
  /**
   * insert, and `reader`'s read point in the messages' conversation (they are all of one)
   * as the write left it: what a send's answer needs (has the peer read it?), without a
   * round trip of its own where the store has round trips.
   */
  insertReading (messages: NewMessage[], reader: string): Promise<Written>
  /** A fresh unique id for a message that is never stored (online messages). */
  allocateId (): Promise<number>
  /** A message by its unique id, if it is in that conversation and visible to viewer. */
  get (convKey: string, viewer: string, id: number): Promise<StoredMessage | undefined>
  /** One answer per locator, in order (of several matches the first stored); undefined where nothing visible matches. */
  findByLocators (convKey: string, viewer: string, locators: Locator[]): Promise<Array<StoredMessage | undefined>>
  /** The newest visible message of a conversation (deleted or not). */
  newest (convKey: string, viewer: string): Promise<StoredMessage | undefined>
  /** A page of history in walking order, without the viewer's deletions. */
  history (query: HistoryQuery): Promise<StoredMessage[]>
  /** Replaces a message by its tombstone, its media references going with its content; a `revoke` event. */
  revoke (convKey: string, id: number, tombstone: Tombstone): Promise<void>
  /**
   * The newest message `viewer` may see that carries `ref` (NewMessage.refs): one of a C2C
   * thread `viewer` is one of the users of, one of a group it is a member of now (any
   * group with `anyGroup`), or a saved message it owns.
   */
  findByRef (ref: string, viewer: string, anyGroup?: boolean): Promise<StoredMessage | undefined>
  /** Moves a user's read point forward to `to`, never backward; with `receipt`, a move is a `read_receipt` event. */
  markRead (convKey: string, userId: string, to: HistoryPosition, receipt: boolean): Promise<void>
  readPoint (convKey: string, userId: string): Promise<HistoryPosition | undefined>
  /** Every read point in these conversations (what the views of events need, in one read). */
  readPoints (convKeys: readonly string[]): Promise<Array<{ convKey: string, userId: string, at: HistoryPosition }>>
  /** Shared (not saved) messages by conversation and id, as stored, in no particular order; missing ones left out. */
  sharedMany (refs: ReadonlyArray<{ convKey: string, id: number }>): Promise<StoredMessage[]>
  deleteFor (convKey: string, userId: string, messageId: number): Promise<void>
  /** Deletes, for the user, every message the conversation holds now. */
  clearFor (convKey: string, userId: string): Promise<void>
}

/** A place in a user's conversation list: pinned first, then the newest activity, then the key (all descending). */
export interface ConversationPosition { pinned: boolean, activeTime: number, convKey: string }

/** One conversation as one user sees it in its list. */
export interface ConversationEntry extends ConversationPosition {
  /** The other user of a C2C thread (the user itself in a thread with itself); null for a group. */
  peer: string | null
  isGroup: boolean
  /** Others' sent messages after the user's read point (and after it joined or cleared), not revoked, not deleted by it. */
  unread: number
  /** The newest message the user sees in its history (not deleted by it), if any. */
  last: StoredMessage | undefined
  /** The user's read point, and the peer's (C2C): what the last message's read flags need. */
  read: HistoryPosition | undefined
  peerRead: HistoryPosition | undefined
}

/**
 * The conversation list (CONTRACT §9). A user has a row per conversation: a C2C thread from
 * its first message (its own saved ones included), a group while it is a member. Rows are
 * kept by the other ports' writes (a C2C message touches its two users' rows; a group
 * message only its sender's, never every member's): this port reads them and changes what
 * is the user's own (pin, delete, read all).
 */
export interface ConversationStore {
  /**
   * Up to `limit` of the user's listed conversations in list order, strictly after `after`
   * (from the top without), and whether more follow them (known without computing the next
   * one's details).
   */
  list (userId: string, after: ConversationPosition | undefined, limit: number): Promise<{ entries: ConversationEntry[], more: boolean }>
  /** One conversation as the user sees it, listed or not; without a row (no message yet, not a member): nothing pinned, nothing unread. */
  get (userId: string, conv: ConvRef): Promise<ConversationEntry>
  /** The sum of the user's unread counts. */
  totalUnread (userId: string): Promise<number>
  /** Moves every read point of the user to its conversation's newest message (a C2C move is a `read_receipt` event, as in markRead). */
  markAllRead (userId: string): Promise<void>
  /** Pins or unpins; false (nothing written) for a group the user is not a member of. A C2C thread may be pinned before its first message. */
  setPinned (userId: string, conv: ConvRef, pinned: boolean): Promise<boolean>
  /**
   * Takes the conversation off the user's list until its next message, unpinned, and deletes
   * its history for the user (as MessageStore.clearFor); false (nothing written) for a group
   * the user is not a member of.
   */
  remove (userId: string, conv: ConvRef): Promise<boolean>
}

/** A message as the search index keeps it (db/search-index.ts): what a search filters on, and its texts, folded. */
export interface SearchEntry {
  convKey: string
  id: number
  serverTime: number
  /** 0 for a saved message. */
  seq: number
  sender: string
  elemMask: number
  /** The searchable text of each element that has one (CONTRACT §10), lower case. */
  texts: string[]
}

export interface SearchQuery {
  viewer: string
  /** One conversation (its shared messages and the viewer's saved ones there); else every one the viewer sees now. */
  convKey?: string
  /**
   * Keyword filters (search-index.ts keywordBloom): only blocks whose filter has every bit
   * of one of these are read. Absent: every block.
   */
  blooms?: Buffer[]
  /** The keywords themselves, lower-cased: what a store that reads messages outside blocks may filter them by first (a message with none of them is not read further). */
  keywords?: string[]
}

/**
 * The search index (CONTRACT §10). It is written by MessageStore and GroupStore in the
 * transaction of each write: a message is searchable once its write has answered, and a
 * revoke takes its text out of the index in the revoke's transaction.
 */
export interface SearchStore {
  /**
   * The entries that `match` keeps among those `q.viewer` may see now: its C2C
   * conversations, the groups it is a member of now and its saved messages (of `q.convKey`
   * alone, when given), never one it deleted. In no particular order.
   */
  search (q: SearchQuery, match: (e: SearchEntry) => boolean): Promise<SearchEntry[]>
}

export const EventType = { Message: 1, Revoke: 2, ReadReceipt: 3, Membership: 9 } as const
export type EventType = typeof EventType[keyof typeof EventType]

/** An event as the log keeps it: what changed, not how anyone sees it. */
export interface LoggedEvent {
  /** Its position: positions increase in commit order, app-wide. */
  pos: number
  type: EventType
  convKey: string
  /** The two users of a C2C conversation; null for a group. */
  users: readonly [string, string] | null
  /** message, revoke: the message; read receipt: the message at the new read point. */
  messageId: number | null
  /** read receipt: the reader; revoke: the revoker; membership: the user. */
  actor: string | null
  /** membership: the user's role from here on; null once it left. */
  role: number | null
  /** Unix seconds. */
  at: number
}

/**
 * The event log (CONTRACT §8). Events are written by the other ports, in the transaction
 * of the change they report; this port reads them. Positions are readable only once every
 * position before them is: a reader that resumes after P never misses a later commit.
 */
export interface EventStore {
  /** Events after position `after`, in order, at most `limit`. */
  read (after: number, limit: number): Promise<LoggedEvent[]>
  /** The same, only those `user` receives: its C2C conversations, and groups it was a member of at the event (membership events not included). */
  readFor (user: string, after: number, limit: number): Promise<LoggedEvent[]>
  /** The oldest position kept (undefined: none kept yet) and the newest readable (0: none yet). */
  bounds (): Promise<{ oldest: number | undefined, newest: number }>
  /**
   * The newest readable position, once what has committed is readable (PostgreSQL: numbered,
   * where no older transaction still runs): "live" starts after it.
   */
  settle (): Promise<number>
  /** The members of a group at position `pos`. */
  membersAt (convKey: string, pos: number): Promise<string[]>
  /** Forgets events before unix time `before` (a batch at a time); how many. */
  sweep (before: number): Promise<number>
  /** `listener` is called when new events may be readable; answers the unsubscribe. */
  subscribe (listener: () => void): () => void
}

/** A webhook as stored (CONTRACT §8). */
export interface Webhook {
  id: string
  url: string
  /** Bit n set: events of EventType n are delivered (0 for the before-send hook). */
  types: number
  /** The before-send hook: called for sends, never fed from the log. */
  beforeSend: boolean
  /** whsec_<base64 key> */
  secret: string
  /** Unix seconds. */
  createdAt: number
}

/** A webhook with what its deliveries have come to. */
export interface WebhookState extends Webhook {
  /** Deliveries owed now. */
  pending: number
  /** Unix seconds, or null. */
  lastSuccessAt: number | null
  lastError: string | null
  lastErrorAt: number | null
}

/** One event owed to one webhook, claimed for an attempt. */
export interface Delivery {
  webhookId: string
  event: LoggedEvent
  /** Attempts that failed so far. */
  attempts: number
  /** Milliseconds: the first failure, or null. */
  failingSince: number | null
}

/** What became of an attempt: delivered (or nothing left to say), to try again at `dueAt` (ms), or given up. */
export type DeliveryOutcome =
  | { webhookId: string, pos: number, convKey: string, result: 'done', at: number }
  | { webhookId: string, pos: number, convKey: string, result: 'retry', at: number, dueAt: number, failingSince: number, error: string }
  | { webhookId: string, pos: number, convKey: string, result: 'drop', at: number, error: string }

/**
 * Webhooks and what they are owed. Deliveries are made from the event log by `feed` (a
 * webhook's cursor moves in the transaction that writes its deliveries), so an event owes
 * its deliveries from the moment it commits. Within one webhook and conversation only the
 * oldest delivery is ever claimable: their order is kept.
 */
export interface WebhookStore {
  /** Registers a webhook that follows the log after position `cursor`; false (nothing written) for a second before-send hook. */
  create (hook: Webhook, cursor: number): Promise<boolean>
  list (): Promise<WebhookState[]>
  /** Every webhook, without the counts (cheap: replicas look often). */
  hooks (): Promise<Webhook[]>
  get (id: string): Promise<WebhookState | undefined>
  /** Forgets a webhook and everything it is owed; false when there was none. */
  delete (id: string): Promise<boolean>
  /** The lowest cursor of the webhooks that follow the log; undefined when none does. */
  cursor (): Promise<number | undefined>
  /**
   * Adds the events of `page` (read from the log after the lowest cursor, in order) to the
   * deliveries of each webhook whose cursor they pass and whose types they have, due at
   * `now` (ms) or queued behind their conversation's; moves the cursors to the page's end.
   */
  feed (page: readonly LoggedEvent[], now: number): Promise<void>
  /** Up to `limit` due deliveries of a webhook, leased until `leaseUntil` (ms): no other claim gets them before then. */
  claim (webhookId: string, limit: number, now: number, leaseUntil: number): Promise<Delivery[]>
  /** Records attempts' outcomes; a delivery that leaves lets its conversation's next one become due at `now`. */
  settle (outcomes: readonly DeliveryOutcome[], now: number): Promise<void>
  /** At start: every owed delivery due by `by` (ms); with `clearLeases` (the only process), in-flight leases forgotten. */
  wake (by: number, clearLeases: boolean): Promise<void>
  /** Deliveries owed in all, and the time (unix seconds) of the oldest one's event. */
  backlog (): Promise<{ pending: number, oldestAt: number | null }>
}

/** due_at of a delivery queued behind an older one of its conversation. */
export const QUEUED = Number.MAX_SAFE_INTEGER

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

/** Groups, keyed by their conversation's key (a membership change and its tips stay together). */
export interface GroupStore {
  /** Creates the group with its members and tips message; false (nothing written) when the key is taken. */
  create (convKey: string, group: Group, tips: NewMessage | undefined): Promise<boolean>
  get (convKey: string): Promise<Group | undefined>
  /**
   * The roles of the named users that are members now (the others absent); undefined when
   * the group does not exist. What a request on a group checks, without its member list.
   */
  roles (convKey: string, userIds: readonly string[]): Promise<Map<string, GroupRole> | undefined>
  /**
   * Applies a membership change and appends its group-tips message, atomically;
   * false (and nothing written) when the user already has that role (or is already out).
   */
  change (convKey: string, change: GroupChange, tips: NewMessage): Promise<boolean>
}

/** An Idempotency-Key of one caller. */
export interface KeyRef { owner: string, key: string }

/** A key as recorded: pending (status null) or with its response. */
export interface KeyRecord { requestHash: string, createdAt: number, status: number | null, body: string | null }

/** A recorded response, for rewriting. */
export interface RecordedResponse extends KeyRef { body: string }

export interface IdempotencyStore {
  /**
   * Records `k` as pending for `requestHash` at `now`, and answers null. A record made
   * before `expiredBefore` is forgotten first; a pending record of the same request made
   * before `staleBefore` is taken over (null too). Otherwise nothing changes and the
   * record as it stands is the answer.
   */
  take (k: KeyRef, requestHash: string, now: number, bounds: { expiredBefore: number, staleBefore: number }): Promise<KeyRecord | null>
  /** Records the response of a pending key, and the message ids its body carries. */
  complete (k: KeyRef, status: number, body: string, msgIds: readonly string[]): Promise<void>
  /** Forgets a key (its request failed). */
  release (k: KeyRef): Promise<void>
  /** Every recorded response that carries message `msgId`. */
  carrying (msgId: string): Promise<RecordedResponse[]>
  /**
   * Replaces recorded bodies, each only where it is still `was` (two revokes may rewrite
   * one response at once); answers the keys whose body had changed, to read again.
   */
  rewrite (changes: ReadonlyArray<RecordedResponse & { was: string }>): Promise<KeyRef[]>
  /** Forgets every key recorded before `before`; answers how many. */
  sweep (before: number): Promise<number>
}

/** An upload as the database keeps it (TIM_S3_BUCKET: the records every replica reads). */
export interface StoredUpload {
  /** up_<32 hex> */
  id: string
  /** The identity the upload acted as. */
  owner: string
  sha256: string
  size: number
  contentType: string
  /** Where its bytes are: the object key in the bucket. */
  objectKey: string
  /** Unix seconds. */
  created: number
}

/** Upload records of object storage (src/media/s3-uploads.ts). Records never change once written. */
export interface UploadStore {
  /** Records an upload; its id is new (a second insert of one id fails). */
  insert (upload: StoredUpload): Promise<void>
  get (id: string): Promise<StoredUpload | undefined>
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  readonly messages: MessageStore
  readonly groups: GroupStore
  readonly idempotency: IdempotencyStore
  readonly events: EventStore
  readonly webhooks: WebhookStore
  readonly conversations: ConversationStore
  readonly search: SearchStore
  readonly uploads: UploadStore
  /** Liveness: resolves when the database answers. */
  ping (): Promise<void>
  /** A small real write: resolves when the database can take one (its disk has room). */
  probe (): Promise<void>
  /** Closes the database; a second call does nothing. */
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
