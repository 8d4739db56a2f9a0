import { Errors } from '../errors.js'
import type { ConversationEntry, ConversationStore, HistoryPosition } from '../../db/store.js'
import { ConvType, convIdFor } from '../messages/ids.js'
import type { Identity, MessageService } from '../messages/service.js'
import type { ConversationPage, ConvInfo } from './schemas.js'
import { CursorCodec } from './cursor.js'

export interface ConversationServiceOptions {
  store: ConversationStore
  /** Conversation ids, access to groups, and how a message looks to its viewer. */
  messages: MessageService
  /** The gateway's secret key: cursors are signed with a key derived from it. */
  secret: string
}

/** The conversation list (CONTRACT §9) over its store port. Nothing here knows HTTP. */
export class ConversationService {
  readonly #store: ConversationStore
  readonly #messages: MessageService
  readonly #cursors: CursorCodec

  constructor (options: ConversationServiceOptions) {
    this.#store = options.store
    this.#messages = options.messages
    this.#cursors = new CursorCodec(options.secret)
  }

  /** GET /conversations: a page in list order, and the cursor of the next (null after the last). */
  async list (who: Identity, count: number, cursor: string | undefined): Promise<ConversationPage> {
    const viewer = who.actAs
    const after = cursor === undefined ? undefined : this.#cursors.decode(viewer, cursor)
    if (cursor !== undefined && after === undefined) throw Errors.invalidParameter('cursor is not a next_cursor the gateway gave this user')
    const { entries, more } = await this.#store.list(viewer, after, count)
    const last = entries.at(-1)
    return {
      conversations: entries.map(e => this.#info(viewer, e)),
      next_cursor: more && last !== undefined ? this.#cursors.encode(viewer, last) : null,
    }
  }

  /** GET /conversations/{conversationID}: listed or not, never added to the list. */
  async get (who: Identity, conversationId: string): Promise<ConvInfo> {
    const conv = await this.#messages.access(who, conversationId)
    return this.#info(who.actAs, await this.#store.get(who.actAs, conv))
  }

  async totalUnread (who: Identity): Promise<number> {
    return this.#store.totalUnread(who.actAs)
  }

  /** POST /conversations/read */
  async markAllRead (who: Identity): Promise<void> {
    await this.#store.markAllRead(who.actAs)
  }

  /** PUT / DELETE …/pin */
  async pin (who: Identity, conversationId: string, pinned: boolean): Promise<void> {
    const conv = await this.#messages.access(who, conversationId)
    if (!await this.#store.setPinned(who.actAs, conv, pinned)) throw this.#notMember(who, conv.target)
  }

  /** DELETE /conversations/{conversationID}: off the list until its next message, unpinned, its history deleted for the viewer. */
  async remove (who: Identity, conversationId: string): Promise<void> {
    const conv = await this.#messages.access(who, conversationId)
    if (!await this.#store.remove(who.actAs, conv)) throw this.#notMember(who, conv.target)
  }

  /** The admin reads any group as itself, but has no conversation of one it is not in. */
  #notMember (who: Identity, groupId: string) {
    return Errors.permissionDenied(`"${who.actAs}" is not a member of group "${groupId}": it has no conversation there to pin or delete`)
  }

  #info (viewer: string, e: ConversationEntry): ConvInfo {
    const { convId, convType } = convIdFor(e.convKey, viewer)
    const info: ConvInfo = {
      conv_id: convId,
      conv_type: convType,
      conv_owner: viewer,
      conv_unread_num: e.unread,
      conv_active_time: e.activeTime,
      conv_is_has_lastmsg: e.last !== undefined,
      conv_is_pinned: e.pinned,
    }
    if (e.last !== undefined) {
      const points = new Map<string, HistoryPosition>()
      if (e.read !== undefined) points.set(viewer, e.read)
      if (convType === ConvType.C2C && e.peerRead !== undefined && e.peer !== null) points.set(e.peer, e.peerRead)
      info.conv_last_msg = this.#messages.viewWith(e.last, viewer, points)
    }
    return info
  }
}
