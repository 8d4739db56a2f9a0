import { randomInt } from 'node:crypto'
import { Errors } from '../errors.js'
import type { HistoryPosition, Store, StoredMessage } from '../../db/store.js'
import { ConvType, convIdFor, formatMsgId, parseConversationId, parseMsgId, type Conversation } from './ids.js'
import { elemMaskOf, toContent } from './rules.js'
import type { GetMsgListParam, MessageIn, MessageOut } from './schemas.js'

/** Who a request acts as (CONTRACT §3). */
export interface Identity {
  /** The UserSig's identifier. */
  caller: string
  /** The user whose side the conversation is seen from (X-TIM-On-Behalf-Of for the admin). */
  actAs: string
  isAdmin: boolean
}

export interface MessageServiceOptions {
  store: Store
  /** Unix seconds now; injectable for tests of time rules. */
  now?: () => number
  /** Called with the number of messages each successful write stored. */
  onStored?: (count: number) => void
}

export interface ListOptions {
  anchor?: GetMsgListParam['msg_getmsglist_param_last_msg']
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

const unixNow = () => Math.floor(Date.now() / 1000)

/** The ten interfaces' meaning, over the store port. Nothing here knows HTTP. */
export class MessageService {
  readonly #store: Store
  readonly #now: () => number
  readonly #onStored: (count: number) => void

  constructor (options: MessageServiceOptions) {
    this.#store = options.store
    this.#now = options.now ?? unixNow
    this.#onStored = options.onStored ?? (() => {})
  }

  /** Resolves a path's conversation for `who`, refusing what the caller may not use. */
  conversation (who: Identity, conversationId: string): Conversation {
    const conv = parseConversationId(conversationId, who.actAs)
    // Groups arrive with the group endpoints; until then none exists.
    if (conv.type === ConvType.Group) throw Errors.groupNotFound(conv.target)
    return conv
  }

  /** TIMMsgSendNewMsg */
  async send (who: Identity, conversationId: string, msg: MessageIn): Promise<MessageOut> {
    const conv = this.conversation(who, conversationId)
    const sender = this.#sender(who, conv, msg.message_sender)
    const { content, elemMask } = toContent(msg)
    const serverTime = this.#now()
    const [stored] = await this.#store.insertMessages([{
      convKey: conv.key,
      sender,
      owner: null,
      serverTime,
      clientTime: msg.message_client_time ?? serverTime,
      rand: msg.message_rand ?? randomInt(0, 2 ** 32),
      status: 2,
      elemMask,
      content,
    }])
    this.#onStored(1)
    return this.view(stored!, who.actAs)
  }

  /** TIMMsgGetMsgList */
  async list (who: Identity, conversationId: string, opts: ListOptions): Promise<MessageOut[]> {
    const conv = this.conversation(who, conversationId)
    const after = await this.#anchor(who, conv, opts.anchor)
    const timeFrom = opts.timeBegin
    const timeTo = opts.timePeriod !== undefined && opts.timePeriod > 0 ? (opts.timeBegin ?? 0) + opts.timePeriod : undefined
    const page = await this.#store.listHistory({
      convKey: conv.key,
      viewer: who.actAs,
      forward: opts.forward,
      limit: opts.count,
      ...(after !== undefined && { after }),
      ...(timeFrom !== undefined && { timeFrom }),
      ...(timeTo !== undefined && { timeTo }),
      elemMask: elemMaskOf(opts.types),
    })
    return page.map(m => this.view(m, who.actAs))
  }

  /** TIMMsgFindByMsgLocatorList */
  async find (who: Identity, conversationId: string, locators: LocatorIn[]): Promise<MessageOut[]> {
    const conv = this.conversation(who, conversationId)
    const found = await this.#store.findByLocators(conv.key, who.actAs, locators.map(l => ({
      seq: l.message_locator_seq,
      rand: l.message_locator_rand,
      time: l.message_locator_time,
    })))
    return found.filter((m): m is StoredMessage => m !== undefined).map(m => this.view(m, who.actAs))
  }

  /** A stored message as `viewer` sees it. */
  view (m: StoredMessage, viewer: string): MessageOut {
    const { convId, convType } = convIdFor(m.convKey, viewer)
    const fromSelf = m.sender === viewer
    return {
      ...m.content,
      message_elem_array: m.content.message_elem_array as MessageOut['message_elem_array'],
      message_conv_id: convId,
      message_conv_type: convType,
      message_sender: m.sender,
      message_client_time: m.clientTime,
      message_server_time: m.serverTime,
      message_is_from_self: fromSelf,
      message_is_read: fromSelf,
      message_is_peer_read: false,
      message_is_online_msg: false,
      message_status: m.status,
      message_unique_id: m.id,
      message_msg_id: formatMsgId(m.id, m.clientTime, m.rand),
      message_rand: m.rand,
      message_seq: m.seq,
    }
  }

  /** A message named by its msg_id in this conversation, visible to the caller; 404 otherwise. */
  async #byMsgId (who: Identity, conv: Conversation, msgId: string): Promise<StoredMessage> {
    const id = parseMsgId(msgId)
    const m = id === undefined ? undefined : await this.#store.getMessage(conv.key, who.actAs, id)
    if (m === undefined || formatMsgId(m.id, m.clientTime, m.rand) !== msgId) {
      throw Errors.messageNotFound(`no message "${msgId}" in this conversation`)
    }
    return m
  }

  async #anchor (who: Identity, conv: Conversation, anchor: ListOptions['anchor']): Promise<HistoryPosition | undefined> {
    if (anchor === undefined) return undefined
    let m: StoredMessage
    if (typeof anchor === 'string') {
      m = await this.#byMsgId(who, conv, anchor)
    } else if (anchor.message_msg_id !== undefined) {
      m = await this.#byMsgId(who, conv, anchor.message_msg_id)
    } else if (anchor.message_seq === undefined && anchor.message_rand === undefined && anchor.message_server_time === undefined) {
      return undefined
    } else {
      const { message_seq: seq, message_rand: rand, message_server_time: time } = anchor
      if (seq === undefined || rand === undefined || time === undefined) {
        throw Errors.invalidParameter('msg_getmsglist_param_last_msg needs message_msg_id, or message_seq with message_rand and message_server_time')
      }
      const [found] = await this.#store.findByLocators(conv.key, who.actAs, [{ seq, rand, time }])
      if (found === undefined) throw Errors.messageNotFound('msg_getmsglist_param_last_msg matches no message in this conversation')
      m = found
    }
    return { serverTime: m.serverTime, seq: m.seq, id: m.id }
  }

  /** message_sender must be the caller, unless the admin names a participant. */
  #sender (who: Identity, conv: Conversation, given: string | undefined): string {
    if (given === undefined || given === who.actAs) return who.actAs
    if (!who.isAdmin) throw Errors.permissionDenied(`message_sender "${given}" is not the caller "${who.actAs}"`)
    if (conv.type === ConvType.C2C && given !== conv.target) {
      throw Errors.permissionDenied(`message_sender "${given}" is not a participant of this conversation`)
    }
    return given
  }
}
