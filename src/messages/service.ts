import { hash, randomInt } from 'node:crypto'
import {
  before, GroupRole, Origin, positionOf,
  type Group, type GroupStore, type HistoryPosition, type MessageStore, type NewMessage, type StoredMessage, type Tombstone,
} from '../../db/store.js'
import type { IdempotencyKeys } from '../idempotency/keys.js'
import type { BeforeSendDecision } from '../webhooks/before-send.js'
import { Errors, TimError } from '../errors.js'
import { c2cConversation, ConvType, convIdFor, formatMsgId, isUserId, parseConversationId, parseMsgId, type Conversation } from './ids.js'
import { MEDIA_TYPES, mediaRefsOf } from './elements.js'
import { withTombstone } from './recorded.js'
import { contentJson, knownJsonOf } from '../../db/rows.js'
import { mapInSlices } from '../slices.js'
import { checkMediaRefs, elemMaskOf, toContent, type MediaRefs } from './rules.js'
import type { AnchorMessage, BatchResult, MessageIn, MessageOut, TimedMessageIn } from './schemas.js'

/** Who a request acts as (CONTRACT §3). */
export interface Identity {
  /** The UserSig's identifier. */
  caller: string
  /** The user whose side the conversation is seen from (X-TIM-On-Behalf-Of for the admin). */
  actAs: string
  isAdmin: boolean
  /** Unix seconds: when the UserSig expires (an event stream ends then). */
  expiresAt?: number
}

export interface MessageServiceOptions {
  messages: MessageStore
  groups: GroupStore
  /** The recorded Idempotency-Key responses: a revoked message's content leaves them too. */
  recorded: IdempotencyKeys
  /** Seconds a sender may revoke; 0 = no limit. */
  revokeWindowS: number
  /** Unix seconds now; injectable for tests of time rules. */
  now?: () => number
  /** Called with the number of messages each successful write stored. */
  onStored?: (count: number) => void
  /** The upload store: element ids/urls naming our uploads must be the sender's. Without it, none are checked. */
  media?: MediaRefs
  /** An online message (never stored) for the streams connected now: the message and who receives it. */
  onOnline?: (m: StoredMessage, recipients: readonly string[]) => void
  /**
   * The before-send webhook (CONTRACT §8): asked about each send and batch send with the
   * message as it would be stored; undefined (at no cost) when none is registered.
   */
  beforeSend?: (sender: string, message: Record<string, unknown>, original: MessageIn, recipients?: readonly string[]) => Promise<BeforeSendDecision> | undefined
}

export interface ListOptions {
  anchor?: AnchorMessage | string
  count: number
  forward: boolean
  timeBegin?: number
  timePeriod?: number
  types?: number[]
}

export interface LocatorIn {
  message_locator_seq: number
  message_locator_rand: number
  message_locator_time: number
}

/**
 * A conversation the caller may use; for a group, the roles of the caller and of the
 * senders the request names (those that are members), not the whole member list.
 */
export interface Access extends Conversation { roles?: Map<string, GroupRole> }

/**
 * Stored messages of one conversation and how one viewer sees each. An import answers
 * 1000: each view is made as it is serialized and dies young, where 1000 views made first
 * lived through the serializing's slices (and its collector's copies).
 */
export interface Viewed { messages: readonly StoredMessage[], view (m: StoredMessage): MessageOut }

/** How one viewer sees messages of one conversation: its read point and the peer's. */
interface Lens {
  viewer: string
  read?: HistoryPosition
  peerRead?: HistoryPosition
  /** The conversation ids of one conversation as the viewer names it: made once for the many messages of a page or an import. */
  ids?: { key: string, convId: string, convType: ConvType }
}

const unixNow = () => Math.floor(Date.now() / 1000)
/**
 * The read points that messages' views in `conv` depend on, as `viewer` sees them: its own
 * when another's message may be unread, the peer's for its own C2C messages (a send needs
 * the peer's alone: one's own messages are always read).
 */
function lensNeeds (conv: Conversation, viewer: string, messages: ReadonlyArray<Pick<StoredMessage, 'sender' | 'origin'>>): { read: boolean, peer: boolean } {
  return {
    read: messages.some(m => m.sender !== viewer && m.origin !== Origin.Imported && m.origin !== Origin.Saved),
    peer: conv.type === ConvType.C2C && messages.some(m => m.sender === viewer),
  }
}

/** The element types whose bytes come by reference: only they can name an upload. */
const MEDIA_MASK = elemMaskOf(MEDIA_TYPES)
/** How far ahead of the server's clock an imported or saved message's time may be. */
const MAX_CLOCK_SKEW_S = 300
const atOrBefore = (m: StoredMessage, point: HistoryPosition | undefined) => point !== undefined && !before(point, positionOf(m))
export const roleOf = (group: Group, userId: string) => group.members.find(m => m.userId === userId)?.role

/** What a message has only once stored: left out of what the before-send webhook is shown. */
const UNBORN_KEYS = ['message_seq', 'message_msg_id', 'message_unique_id', 'message_is_online_msg']

/** What a revoke leaves of a message (CONTRACT §6): status 6, no elements, who revoked it. */
const tombstone = (revoker: string): Tombstone => ({ status: 6, revoker, content: { message_elem_array: [] }, elemMask: 0 })

/** Where a view keeps the JSON text of the content it shows, when known (messageJson). */
const CONTENT_TEXT = Symbol('contentText')
type TextedView = MessageOut & { [CONTENT_TEXT]?: string }

/** JSON.stringify of a string, remembering the last one: the messages of an answer share their conversation and mostly their sender. */
function lastJson (): (s: string) => string {
  let last = ''
  let json = '""'
  return s => s === last ? json : (json = JSON.stringify(last = s))
}
const convIdJson = lastJson()
const senderJson = lastJson()

/**
 * A view (as #view makes it, unchanged since) as JSON: what JSON.stringify answers, but
 * with its elements and client keys copied from the content's stored text rather than
 * serialized again (an import answers 1000 of them). Its keys come in another order.
 */
export function messageJson (view: MessageOut): string {
  const text = (view as TextedView)[CONTENT_TEXT]
  if (text === undefined) return JSON.stringify(view)
  const v = view
  // A msg_id is digits and hyphens (formatMsgId): nothing to escape.
  let s = `{"message_conv_id":${convIdJson(v.message_conv_id)},"message_conv_type":${v.message_conv_type},` +
    `"message_sender":${senderJson(v.message_sender)},"message_client_time":${v.message_client_time},` +
    `"message_server_time":${v.message_server_time},"message_is_from_self":${v.message_is_from_self},` +
    `"message_is_read":${v.message_is_read},"message_is_peer_read":${v.message_is_peer_read},` +
    `"message_is_online_msg":${v.message_is_online_msg},"message_status":${v.message_status},` +
    `"message_unique_id":${v.message_unique_id},"message_msg_id":"${v.message_msg_id}",` +
    `"message_rand":${v.message_rand},"message_seq":${v.message_seq}`
  if (v.message_revoker_user_id !== undefined) s += `,"message_revoker_user_id":${JSON.stringify(v.message_revoker_user_id)}`
  // The content's text is an object that has message_elem_array: never "{}".
  return `${s},${text.slice(1)}`
}

/** The ten interfaces' meaning, over the store port. Nothing here knows HTTP. */
export class MessageService {
  readonly #messages: MessageStore
  readonly #groups: GroupStore
  readonly #recorded: IdempotencyKeys
  readonly #revokeWindowS: number
  readonly #now: () => number
  readonly #onStored: (count: number) => void
  readonly #media: MediaRefs | undefined
  readonly #onOnline: (m: StoredMessage, recipients: readonly string[]) => void
  readonly #beforeSend: NonNullable<MessageServiceOptions['beforeSend']>

  constructor (options: MessageServiceOptions) {
    this.#messages = options.messages
    this.#groups = options.groups
    this.#recorded = options.recorded
    this.#revokeWindowS = options.revokeWindowS
    this.#now = options.now ?? unixNow
    this.#onStored = options.onStored ?? (() => {})
    this.#media = options.media
    this.#onOnline = options.onOnline ?? (() => {})
    this.#beforeSend = options.beforeSend ?? (() => undefined)
  }

  now (): number {
    return this.#now()
  }

  /**
   * Resolves a path's conversation for `who`: groups must exist and have them as member.
   * `senders`: the message_sender values the request names, whose roles it will check.
   */
  async access (who: Identity, conversationId: string, senders: ReadonlyArray<string | undefined> = []): Promise<Access> {
    const conv = parseConversationId(conversationId, who.actAs)
    if (conv.type === ConvType.C2C) return conv
    const named = new Set([who.actAs, ...senders.filter((s): s is string => s !== undefined)])
    const roles = await this.#groups.roles(conv.key, [...named])
    if (roles === undefined) throw Errors.groupNotFound(conv.target)
    // The admin reads any group as itself; acting for a user, it sees that user's side.
    const adminAsItself = who.isAdmin && who.actAs === who.caller
    if (!adminAsItself && !roles.has(who.actAs)) {
      throw Errors.permissionDenied(`"${who.actAs}" is not a member of group "${conv.target}"`)
    }
    return { ...conv, roles }
  }

  /** Stores messages and counts them; the one way messages enter the store, with #storeOne. */
  async store (messages: NewMessage[]): Promise<StoredMessage[]> {
    const stored = await this.#messages.insert(messages)
    this.#onStored(messages.length)
    return stored
  }

  /** TIMMsgSendNewMsg */
  async send (who: Identity, conversationId: string, msg: MessageIn): Promise<MessageOut> {
    const conv = await this.access(who, conversationId, [msg.message_sender])
    const draft = this.#draft(conv, this.#sender(who, conv, msg.message_sender), msg, Origin.Sent)
    await this.#checkMedia(who, draft.sender, msg)
    if (msg.message_is_online_msg === true) {
      const recipients = conv.roles === undefined
        ? [draft.sender, conv.target]
        : (await this.#groups.get(conv.key))?.members.map(m => m.userId) ?? []
      return this.#online(draft, who.actAs, recipients)
    }
    return this.#storeOne(conv, who.actAs, await this.#screened(draft, msg))
  }

  /** Stores one message and answers it as `viewer` sees it (#written). */
  async #storeOne (conv: Conversation, viewer: string, draft: NewMessage): Promise<MessageOut> {
    const written = await this.#written(conv, viewer, [draft])
    return written.view(written.messages[0]!)
  }

  /**
   * Stores messages of one conversation, with how `viewer` sees them: the one read point
   * their views depend on is read by the same write (an import's is the peer's: on
   * PostgreSQL, not a round trip of its own after the commit).
   */
  async #written (conv: Conversation, viewer: string, drafts: NewMessage[]): Promise<Viewed> {
    const needs = lensNeeds(conv, viewer, drafts)
    const reader = needs.read && needs.peer ? undefined : needs.read ? viewer : needs.peer ? conv.target : undefined
    if (reader === undefined) {
      const stored = await this.store(drafts)
      const lens = await this.#lens(conv, viewer, stored)
      return { messages: stored, view: m => viewOf(m, lens) }
    }
    const { stored, readPoint } = await this.#messages.insertReading(drafts, reader)
    this.#onStored(drafts.length)
    const lens = needs.read ? this.#lensWith(conv, viewer, readPoint, undefined) : this.#lensWith(conv, viewer, undefined, readPoint)
    return { messages: stored, view: m => viewOf(m, lens) }
  }

  /**
   * The draft as the before-send webhook leaves it: as it is, with the webhook's elements,
   * or refused (403 with the webhook's code). `recipients`: a batch's.
   */
  async #screened (draft: NewMessage, msg: MessageIn, recipients?: readonly string[]): Promise<NewMessage> {
    const pending = this.#beforeSend(draft.sender, this.#proposed(draft, recipients === undefined), msg, recipients)
    if (pending === undefined) return draft
    const decision = await pending
    if (decision.action === 'allow') return draft
    if (decision.action === 'reject') throw new TimError(decision.code, 403, decision.desc)
    if (decision.action === 'invalid') throw Errors.beforeSendInvalid(decision.why)
    const { content, elemMask } = toContent(decision.message)
    return { ...draft, content, elemMask, refs: mediaRefsOf(content) }
  }

  /** The Message as it would be stored, before it is (no seq, msg_id or unique id); a batch's has no conversation. */
  #proposed (draft: NewMessage, withConv: boolean): Record<string, unknown> {
    const view: Record<string, unknown> = viewOf(this.#transient(draft, 0), { viewer: draft.sender })
    for (const key of withConv ? UNBORN_KEYS : [...UNBORN_KEYS, 'message_conv_id', 'message_conv_type']) delete view[key]
    delete (view as TextedView)[CONTENT_TEXT]
    return view
  }

  /** TIMMsgSaveMsg: visible to the caller alone, seq 0, status 5. */
  async save (who: Identity, conversationId: string, msg: TimedMessageIn): Promise<MessageOut> {
    const conv = await this.access(who, conversationId, [msg.message_sender])
    const draft = this.#draft(conv, this.#sender(who, conv, msg.message_sender), msg, Origin.Saved)
    await this.#checkMedia(who, draft.sender, msg)
    const serverTime = this.#notFuture(msg.message_server_time ?? draft.serverTime, '', 'message_server_time')
    return this.#storeOne(conv, who.actAs, { ...draft, owner: who.actAs, serverTime })
  }

  /** TIMMsgImportMsgList: all or nothing, original senders and times, deduplicated. */
  async import (who: Identity, conversationId: string, msgs: TimedMessageIn[]): Promise<Viewed> {
    const conv = await this.access(who, conversationId, msgs.map(m => m.message_sender))
    const keyJson = JSON.stringify(conv.key)
    const callerJson = JSON.stringify(who.actAs)
    const now = this.#now()
    // Up to 1000 messages of 12 KB: in slices, the contents serialized ahead of the write.
    const drafts = await mapInSlices(msgs, (msg, i) => {
      const where = `[${i}].`
      const sender = this.#sender(who, conv, msg.message_sender, where)
      const checked = toContent(msg, where)
      const serverTime = this.#notFuture(msg.message_server_time ?? msg.message_client_time ?? now,
        where, msg.message_server_time === undefined ? 'message_client_time' : 'message_server_time', now)
      // Without a client rand, the rand is derived from the message itself (the hash of
      // JSON [key, sender, time, content]), so that re-importing the same message finds it again.
      // (The digest's first 4 bytes, big-endian: read from hex, as a Buffer per message cost more.)
      const rand = msg.message_rand ?? Number.parseInt(hash('sha256', `[${keyJson},${sender === who.actAs ? callerJson : JSON.stringify(sender)},${serverTime},${contentJson(checked.content)}]`, 'hex').slice(0, 8), 16)
      return this.#draft(conv, sender, msg, Origin.Imported, where, checked, { serverTime, rand })
    })
    for (const [i, msg] of msgs.entries()) {
      // A thousand text messages need no thousand awaits.
      if ((drafts[i]!.elemMask & MEDIA_MASK) !== 0) await this.#checkMedia(who, drafts[i]!.sender, msg, `[${i}].`)
    }
    return this.#written(conv, who.actAs, drafts)
  }

  /** TIMMsgBatchSend: C2C to 1-500 recipients, one result each. */
  async batchSend (who: Identity, recipients: string[], msg: MessageIn): Promise<BatchResult[]> {
    const unique = [...new Set(recipients)]
    if (unique.length < 1 || unique.length > 500) throw Errors.batchCount(unique.length)
    const sender = msg.message_sender ?? who.actAs
    if (sender !== who.actAs && !who.isAdmin) throw Errors.permissionDenied(`message_sender "${sender}" is not the caller "${who.actAs}"`)
    if (!isUserId(sender)) throw Errors.invalidIdentifier(`"${sender}" in message_sender`)
    // The message is checked once, whatever becomes of the recipients.
    let checked = toContent(msg)
    await this.#checkMedia(who, sender, msg)
    const valid = unique.filter(isUserId)
    if (msg.message_is_online_msg !== true && valid.length > 0) {
      // One question for the whole batch: a reject refuses it all.
      const first = this.#draft(c2cConversation(sender, valid[0]!), sender, msg, Origin.Sent, '', checked)
      const screened = await this.#screened(first, msg, valid)
      checked = { content: screened.content, elemMask: screened.elemMask }
    }
    const drafts = valid.map(to => this.#draft(c2cConversation(sender, to), sender, msg, Origin.Sent, '', checked))
    const stored = msg.message_is_online_msg === true
      ? await Promise.all(drafts.map(async (d, i) => {
        const m = this.#transient(d, await this.#messages.allocateId())
        this.#onOnline(m, [sender, valid[i]!])
        return m
      }))
      : await this.store(drafts)
    const byRecipient = new Map(valid.map((to, i) => [to, stored[i]!]))
    return unique.map(to => {
      const m = byRecipient.get(to)
      if (m === undefined) {
        const e = Errors.invalidIdentifier(`"${to}"`)
        return { msg_batch_send_result_identifier: to, msg_batch_send_result_code: e.code, msg_batch_send_result_desc: e.message }
      }
      return {
        msg_batch_send_result_identifier: to,
        msg_batch_send_result_code: 0,
        msg_batch_send_result_desc: '',
        msg_batch_send_result_msg: viewOf(m, { viewer: sender }),
      }
    })
  }

  /** TIMMsgGetMsgList */
  async list (who: Identity, conversationId: string, opts: ListOptions): Promise<MessageOut[]> {
    const conv = await this.access(who, conversationId)
    const anchor = opts.anchor === undefined ? undefined : await this.#locate(who, conv, opts.anchor, 'msg_getmsglist_param_last_msg')
    const timeFrom = opts.timeBegin
    const timeTo = opts.timePeriod !== undefined && opts.timePeriod > 0 ? (opts.timeBegin ?? 0) + opts.timePeriod : undefined
    const page = await this.#messages.history({
      convKey: conv.key,
      viewer: who.actAs,
      forward: opts.forward,
      limit: opts.count,
      ...(anchor !== undefined && { after: positionOf(anchor) }),
      ...(timeFrom !== undefined && { timeFrom }),
      ...(timeTo !== undefined && { timeTo }),
      elemMask: elemMaskOf(opts.types),
    })
    return this.#views(conv, who.actAs, page)
  }

  /** TIMMsgFindByMsgLocatorList */
  async find (who: Identity, conversationId: string, locators: LocatorIn[]): Promise<MessageOut[]> {
    const conv = await this.access(who, conversationId)
    const found = await this.#messages.findByLocators(conv.key, who.actAs, locators.map(l => ({
      seq: l.message_locator_seq,
      rand: l.message_locator_rand,
      time: l.message_locator_time,
    })))
    return this.#views(conv, who.actAs, found.filter((m): m is StoredMessage => m !== undefined))
  }

  /** TIMMsgReportReaded: the read point moves to the message (or the newest), never back. */
  async markRead (who: Identity, conversationId: string, msg: AnchorMessage | undefined): Promise<void> {
    const conv = await this.access(who, conversationId)
    const target = msg === undefined ? undefined : await this.#locate(who, conv, msg, 'message')
    const point = target ?? await this.#messages.newest(conv.key, who.actAs)
    // A C2C read point that moves is a read receipt to the peer (CONTRACT §8).
    if (point !== undefined) await this.#messages.markRead(conv.key, who.actAs, positionOf(point), conv.type === ConvType.C2C)
  }

  /** TIMMsgRevoke */
  async revoke (who: Identity, conversationId: string, msg: AnchorMessage): Promise<MessageOut> {
    const conv = await this.access(who, conversationId)
    let m = await this.#locate(who, conv, msg, 'message', true)
    if (m.status !== 6) {
      const role = conv.roles?.get(who.actAs)
      const moderator = who.isAdmin || role === GroupRole.Owner || role === GroupRole.Admin
      if (!moderator) {
        if (m.sender !== who.actAs) throw Errors.permissionDenied('only the sender, a group owner or admin, or the app admin may revoke this message')
        if (this.#revokeWindowS > 0 && this.#now() - m.serverTime > this.#revokeWindowS) {
          throw conv.type === ConvType.C2C ? Errors.revokeTimeLimitC2C(this.#revokeWindowS) : Errors.revokeTimeLimitGroup(this.#revokeWindowS)
        }
      }
      // A replayed Idempotency-Key response must not bring the content back. Rewritten
      // first, so that the revoke's checkpoint also clears the old response from the WAL.
      const msgId = formatMsgId(m.id, m.clientTime, m.rand)
      await this.#recorded.rewriteCarrying(msgId, body => withTombstone(body, msgId, who.actAs))
      const t = tombstone(who.actAs)
      await this.#messages.revoke(conv.key, m.id, t)
      m = { ...m, status: t.status, revoker: t.revoker, content: t.content }
    }
    return (await this.#views(conv, who.actAs, [m]))[0]!
  }

  /** TIMMsgDelete: one message, or (none given) the caller's whole history here. */
  async delete (who: Identity, conversationId: string, msg: AnchorMessage | string | undefined): Promise<void> {
    const conv = await this.access(who, conversationId)
    const m = msg === undefined ? undefined : await this.#locate(who, conv, msg, 'msg_delete_param_msg', true)
    if (m === undefined) await this.#messages.clearFor(conv.key, who.actAs)
    else await this.#messages.deleteFor(conv.key, who.actAs, m.id)
  }

  /** The message a Message (msg_id, else seq + rand + time) or msg_id names; 404 otherwise; undefined for `{}`. */
  async #locate (who: Identity, conv: Access, given: AnchorMessage | string, key: string, required: true): Promise<StoredMessage>
  async #locate (who: Identity, conv: Access, given: AnchorMessage | string, key: string, required?: boolean): Promise<StoredMessage | undefined>
  async #locate (who: Identity, conv: Access, given: AnchorMessage | string, key: string, required = false): Promise<StoredMessage | undefined> {
    const msgId = typeof given === 'string' ? given : given.message_msg_id
    if (msgId === '') {
      // The SDK's "" is "no message": fine for an anchor, too easy a slip for a deletion.
      if (required) throw Errors.invalidParameter(`${key} is an empty message id`)
      return undefined
    }
    if (msgId !== undefined) {
      const id = parseMsgId(msgId)
      const m = id === undefined ? undefined : await this.#messages.get(conv.key, who.actAs, id)
      if (m === undefined || formatMsgId(m.id, m.clientTime, m.rand) !== msgId) throw Errors.messageNotFound(`no message "${msgId}" in this conversation`)
      return m
    }
    const { message_seq: seq, message_rand: rand, message_server_time: time } = given as AnchorMessage
    if (seq === undefined && rand === undefined && time === undefined) {
      if (required) throw Errors.invalidParameter(`${key} needs message_msg_id, or message_seq with message_rand and message_server_time`)
      return undefined
    }
    if (seq === undefined || rand === undefined || time === undefined) {
      throw Errors.invalidParameter(`${key} needs message_msg_id, or message_seq with message_rand and message_server_time`)
    }
    const [m] = await this.#messages.findByLocators(conv.key, who.actAs, [{ seq, rand, time }])
    if (m === undefined) throw Errors.messageNotFound(`${key} matches no message in this conversation`)
    return m
  }

  /** A message the caller may see in this conversation, as stored (downloads read its elements); 404 otherwise. */
  async visible (who: Identity, conversationId: string, msgId: string): Promise<StoredMessage> {
    return this.#locate(who, await this.access(who, conversationId), msgId, 'msgID', true)
  }

  /** Uploads named by the message's elements must exist and be the sender's (or the caller is the admin). */
  async #checkMedia (who: Identity, sender: string, msg: MessageIn, where = ''): Promise<void> {
    if (this.#media !== undefined) await checkMediaRefs(msg, sender, who.isAdmin, this.#media, where)
  }

  /**
   * A given time may not lie ahead of the clock (beyond a little skew): a message from
   * the future would sit on top of every page and count as read with the newest.
   */
  #notFuture (time: number, where: string, key: string, now = this.#now()): number {
    if (time > now + MAX_CLOCK_SKEW_S) throw Errors.invalidParameter(`${where}${key} is in the future (more than ${MAX_CLOCK_SKEW_S} s ahead of the server)`)
    return time
  }

  /** message_sender must be the caller, unless the admin names a participant. */
  #sender (who: Identity, conv: Access, given: string | undefined, where = ''): string {
    if (given === undefined || given === who.actAs) return who.actAs
    if (!who.isAdmin) throw Errors.permissionDenied(`${where}message_sender "${given}" is not the caller "${who.actAs}"`)
    const participant = conv.roles === undefined ? given === conv.target : conv.roles.has(given)
    if (!participant) throw Errors.permissionDenied(`${where}message_sender "${given}" is not a participant of this conversation`)
    return given
  }

  /** A message to store; `given`: an import's own time and its rand (given or derived). */
  #draft (conv: Conversation, sender: string, msg: MessageIn, origin: Origin, where = '', checked = toContent(msg, where),
    given?: { serverTime: number, rand: number }): NewMessage {
    const { content, elemMask } = checked
    const serverTime = given?.serverTime ?? this.#now()
    return {
      conv,
      sender,
      owner: null,
      serverTime,
      clientTime: msg.message_client_time ?? serverTime,
      rand: given?.rand ?? msg.message_rand ?? randomInt(0, 2 ** 32),
      status: origin === Origin.Sent ? 2 : 5,
      origin,
      elemMask,
      content,
      refs: mediaRefsOf(content),
      // Sent messages are news; imported and saved ones are history (CONTRACT §8).
      event: origin === Origin.Sent,
    }
  }

  /** An online message: it gets an id but is never stored, listed or revocable; the streams connected now get it. */
  async #online (draft: NewMessage, viewer: string, recipients: readonly string[]): Promise<MessageOut> {
    const m = this.#transient(draft, await this.#messages.allocateId())
    this.#onOnline(m, recipients)
    return viewOf(m, { viewer })
  }

  /** How `viewer` sees a stored message, given the read points of its conversation (events render with this). */
  viewWith (m: StoredMessage, viewer: string, readPoints: ReadonlyMap<string, HistoryPosition>): MessageOut {
    return viewWith(m, viewer, readPoints)
  }

  /** Stored messages of any conversations as `viewer` sees them (one read of their read points). */
  async viewsFor (viewer: string, messages: StoredMessage[]): Promise<MessageOut[]> {
    if (messages.length === 0) return []
    const points = new Map<string, Map<string, HistoryPosition>>()
    for (const p of await this.#messages.readPoints(messages.map(m => m.convKey))) {
      const of = points.get(p.convKey) ?? new Map<string, HistoryPosition>()
      points.set(p.convKey, of.set(p.userId, p.at))
    }
    return messages.map(m => this.viewWith(m, viewer, points.get(m.convKey) ?? new Map()))
  }

  #transient (d: NewMessage, id: number): StoredMessage {
    return {
      id, convKey: d.conv.key, seq: 0, sender: d.sender, owner: d.owner, serverTime: d.serverTime, clientTime: d.clientTime,
      rand: d.rand, status: d.status, origin: d.origin, revoker: null, deleted: false, content: d.content,
    }
  }

  /** Messages of one conversation as `viewer` sees them (one read of the read points). */
  async #views (conv: Conversation, viewer: string, messages: StoredMessage[]): Promise<MessageOut[]> {
    if (messages.length === 0) return []
    const lens = await this.#lens(conv, viewer, messages)
    return mapInSlices(messages, m => viewOf(m, lens))
  }

  /** How `viewer` sees stored messages of one conversation: the read points their views depend on, read now. */
  async #lens (conv: Conversation, viewer: string, messages: StoredMessage[]): Promise<Lens> {
    const needs = lensNeeds(conv, viewer, messages)
    const [read, peerRead] = await Promise.all([
      needs.read ? this.#messages.readPoint(conv.key, viewer) : undefined,
      needs.peer ? this.#messages.readPoint(conv.key, conv.target) : undefined,
    ])
    return this.#lensWith(conv, viewer, read, peerRead)
  }

  /** How `viewer` sees messages of `conv`, given the read points of its own and of the peer. */
  #lensWith (conv: Conversation, viewer: string, read: HistoryPosition | undefined, peerRead: HistoryPosition | undefined): Lens {
    return { viewer, ...(read !== undefined && { read }), ...(peerRead !== undefined && { peerRead }), ids: { key: conv.key, ...convIdFor(conv.key, viewer) } }
  }
}

/** A stored message as the lens's viewer sees it. */
function viewOf (m: StoredMessage, lens: Lens): MessageOut {
  const { convId, convType } = lens.ids !== undefined && lens.ids.key === m.convKey ? lens.ids : convIdFor(m.convKey, lens.viewer)
  const fromSelf = m.sender === lens.viewer
  // One literal of a fixed shape, then the client's stored keys: spreading the content
  // first made every view a slow, dictionary-mode object.
  const view: TextedView = {
    [CONTENT_TEXT]: knownJsonOf(m.content),
    message_elem_array: m.content.message_elem_array as MessageOut['message_elem_array'],
    message_conv_id: convId,
    message_conv_type: convType,
    message_sender: m.sender,
    message_client_time: m.clientTime,
    message_server_time: m.serverTime,
    message_is_from_self: fromSelf,
    message_is_read: fromSelf || m.origin === Origin.Imported || m.origin === Origin.Saved || atOrBefore(m, lens.read),
    message_is_peer_read: convType === ConvType.C2C && fromSelf && atOrBefore(m, lens.peerRead),
    message_is_online_msg: m.seq === 0 && m.origin === Origin.Sent,
    message_status: m.deleted ? 4 : m.status,
    message_unique_id: m.id,
    message_msg_id: formatMsgId(m.id, m.clientTime, m.rand),
    message_rand: m.rand,
    message_seq: m.seq,
  }
  if (m.revoker !== null) view.message_revoker_user_id = m.revoker
  // Stored keys are client keys (storedClientKeys): none is one of the keys above.
  for (const key in m.content) if (key !== 'message_elem_array') (view as Record<string, unknown>)[key] = m.content[key]
  return view
}

/**
 * How `viewer` sees a stored message, given the read points of its conversation: a function
 * of the message alone, so that the event stream process renders without the service.
 */
export function viewWith (m: StoredMessage, viewer: string, readPoints: ReadonlyMap<string, HistoryPosition>): MessageOut {
  const { convId, convType } = convIdFor(m.convKey, viewer)
  return viewOf(m, { viewer, read: readPoints.get(viewer), peerRead: convType === ConvType.C2C ? readPoints.get(convId) : undefined, ids: { key: m.convKey, convId, convType } })
}
