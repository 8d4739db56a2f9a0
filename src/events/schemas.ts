import { Type, type TSchema } from 'typebox'
import { MessageOut } from '../messages/schemas.js'

/**
 * The event envelope (CONTRACT §8, docs/events.md) as a schema: the `data:` of each
 * Server-Sent Event (and of each webhook delivery). The stream itself is text, so only the
 * OpenAPI document uses it, as the EventEnvelope component SDKs parse `data:` into.
 */

/** MessageReceipt (TIMMsgReadedReceiptCallback), as the peer hears it. */
export const MessageReceipt = Type.Object({
  msg_receipt_conv_id: Type.String({ description: 'the reader: the conversation as the peer sees it' }),
  msg_receipt_conv_type: Type.Unsafe<1>({ type: 'integer', const: 1, description: 'TIMConvType: 1 C2C' }),
  msg_receipt_msg_id: Type.String({ description: 'the message_msg_id the reader has read up to' }),
  msg_receipt_time_stamp: Type.Integer({ description: 'that message\'s server time, unix seconds' }),
  msg_receipt_is_peer_read: Type.Literal(true),
}, { title: 'MessageReceipt' })

const event = (type: string, title: string, data: TSchema, description: string) => Type.Object({
  event_id: Type.String({ description: 'the stream position: resume after it with Last-Event-ID (or ?after=)' }),
  event_type: Type.Literal(type),
  event_time: Type.Integer({ description: 'when the change committed, unix seconds' }),
  event_user: Type.String({ description: 'whose view event_data is: the stream\'s user (the sender, in the app stream)' }),
  event_data: data,
}, { title, description })

export const MessageEvent = event('message', 'MessageEvent', MessageOut, 'TIMRecvNewMsgCallback: a new message (send, batch send, group tips, online messages)')
export const RevokeEvent = event('revoke', 'RevokeEvent', MessageOut, 'TIMMsgRevokeCallback: the tombstone of a revoked message')
export const ReadReceiptEvent = event('read_receipt', 'ReadReceiptEvent', MessageReceipt, 'TIMMsgReadedReceiptCallback: the C2C peer read up to a message')
export const ResetEvent = Type.Object({
  event_type: Type.Literal('reset'),
  event_time: Type.Integer({ description: 'now, unix seconds' }),
  event_user: Type.String({ description: 'the stream\'s user' }),
  event_data: Type.Object({}, { description: 'empty' }),
}, { title: 'ResetEvent', description: 'resuming before the oldest kept event: what was missed is gone, reload the history (no event_id)' })

export const EventEnvelope = Type.Union([MessageEvent, RevokeEvent, ReadReceiptEvent, ResetEvent], {
  title: 'EventEnvelope',
  description: 'The data of one Server-Sent Event of GET /events (event_type is also its `event:` line); webhooks deliver the same envelope.',
})
