import { EventType, type HistoryPosition, type LoggedEvent, type MessageStore, type StoredMessage } from '../../db/store.js'
import { formatMsgId } from '../messages/ids.js'
import type { MessageOut } from '../messages/schemas.js'
import { messageJson } from '../messages/service.js'

/** event_type of each event a client receives (CONTRACT §8). */
export const EVENT_TYPE_NAMES: Readonly<Record<number, string>> = {
  [EventType.Message]: 'message',
  [EventType.Revoke]: 'revoke',
  [EventType.ReadReceipt]: 'read_receipt',
}

/** MessageReceipt (TIMMsgReadedReceiptCallback): `reader` read up to `m`, as the peer hears it. */
export interface MessageReceipt {
  msg_receipt_conv_id: string
  msg_receipt_conv_type: 1
  msg_receipt_msg_id: string
  msg_receipt_time_stamp: number
  msg_receipt_is_peer_read: true
}

export const receiptOf = (reader: string, m: StoredMessage): MessageReceipt => ({
  msg_receipt_conv_id: reader,
  msg_receipt_conv_type: 1,
  msg_receipt_msg_id: formatMsgId(m.id, m.clientTime, m.rand),
  msg_receipt_time_stamp: m.serverTime,
  msg_receipt_is_peer_read: true,
})

/** The one envelope of every event, as JSON text. */
export const envelope = (id: number, type: string, time: number, user: string, data: unknown): string =>
  envelopeOf(id, type, time, user, JSON.stringify(data))

const envelopeOf = (id: number, type: string, time: number, user: string, dataJson: string): string =>
  `{"event_id":"${id}","event_type":"${type}","event_time":${time},"event_user":${JSON.stringify(user)},"event_data":${dataJson}}`

/** The envelope of `event: reset` (CONTRACT §8): no id, empty data. */
export const resetEnvelope = (user: string): string =>
  `{"event_type":"reset","event_time":${Math.floor(Date.now() / 1000)},"event_user":${JSON.stringify(user)},"event_data":{}}`

/** One SSE frame: `id:` (none for reset), `event:`, `data:`. */
export const frame = (id: number | undefined, type: string, json: string): string =>
  `${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${json}\n\n`

/** What a page of the log needs to be rendered: its messages and the read points of its conversations. */
export interface PageContext {
  messages: ReadonlyMap<string, StoredMessage>
  readPoints: ReadonlyMap<string, ReadonlyMap<string, HistoryPosition>>
}

export const messageKey = (convKey: string, id: number) => `${convKey}\n${id}`

/** The messages and read points a page of events renders with: two reads, whatever its length. */
export async function pageContext (messages: MessageStore, page: readonly LoggedEvent[]): Promise<PageContext> {
  const withMessage = page.filter(e => e.messageId !== null && e.type !== EventType.Membership)
  const [found, points] = await Promise.all([
    messages.sharedMany(withMessage.map(e => ({ convKey: e.convKey, id: e.messageId! }))),
    messages.readPoints(withMessage.map(e => e.convKey)),
  ])
  const readPoints = new Map<string, Map<string, HistoryPosition>>()
  for (const p of points) {
    const conv = readPoints.get(p.convKey) ?? new Map<string, HistoryPosition>()
    readPoints.set(p.convKey, conv.set(p.userId, p.at))
  }
  return { messages: new Map(found.map(m => [messageKey(m.convKey, m.id), m])), readPoints }
}

const NO_POINTS: ReadonlyMap<string, HistoryPosition> = new Map()

/**
 * Who hears an event first-hand in the app stream (CONTRACT §8): a message or revoke as its
 * sender sees it, a read receipt as the peer (the reader's other party) does.
 */
export function appViewer (e: LoggedEvent, m: StoredMessage): string {
  if (e.type !== EventType.ReadReceipt) return m.sender
  const [a, b] = e.users ?? ['', '']
  return e.actor === a ? b : a
}

/** The views an event needs: `view(message, viewer)` comes from the message service. */
export type ViewOf = (m: StoredMessage, viewer: string, readPoints: ReadonlyMap<string, HistoryPosition>) => MessageOut

/**
 * The views of one event that users share: a group message looks the same to every member
 * but its sender and those who have read it, so it is serialized once per distinct view.
 */
export type ViewCache = Map<string, string>

const viewJson = (v: MessageOut, cache: ViewCache | undefined): string => {
  if (cache === undefined) return messageJson(v)
  const key = `${v.message_conv_id}\n${v.message_is_from_self}${v.message_is_read}${v.message_is_peer_read}`
  let json = cache.get(key)
  if (json === undefined) {
    json = messageJson(v)
    cache.set(key, json)
  }
  return json
}

/**
 * The SSE frame of `e` for `user`, or undefined when it says nothing to that user (a read
 * receipt to the reader itself). `cache` is one event's: pass a new one per event.
 */
export function render (e: LoggedEvent, user: string, ctx: PageContext, view: ViewOf, cache?: ViewCache): string | undefined {
  const type = EVENT_TYPE_NAMES[e.type]
  if (type === undefined || e.messageId === null) return undefined
  const m = ctx.messages.get(messageKey(e.convKey, e.messageId))
  if (m === undefined) return undefined
  if (e.type === EventType.ReadReceipt) {
    if (user === e.actor) return undefined
    return frame(e.pos, type, envelope(e.pos, type, e.at, user, receiptOf(e.actor ?? '', m)))
  }
  return frame(e.pos, type, envelopeOf(e.pos, type, e.at, user, viewJson(view(m, user, ctx.readPoints.get(e.convKey) ?? NO_POINTS), cache)))
}

/**
 * The envelope JSON of `e` as the app stream has it (what webhooks POST), or undefined when
 * its message is gone. The message is read at rendering: a revoked one is its tombstone.
 */
export function appEnvelope (e: LoggedEvent, ctx: PageContext, view: ViewOf): string | undefined {
  const type = EVENT_TYPE_NAMES[e.type]
  const m = e.messageId === null ? undefined : ctx.messages.get(messageKey(e.convKey, e.messageId))
  if (type === undefined || m === undefined) return undefined
  const user = appViewer(e, m)
  if (e.type === EventType.ReadReceipt) return envelope(e.pos, type, e.at, user, receiptOf(e.actor ?? '', m))
  return envelopeOf(e.pos, type, e.at, user, messageJson(view(m, user, ctx.readPoints.get(e.convKey) ?? NO_POINTS)))
}
