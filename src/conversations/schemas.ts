import { Type, type Static } from 'typebox'
import { MessageOut } from '../messages/schemas.js'

/** ConvInfo (TIMCloudDef.h / TIMConversationManager.h), the keys CONTRACT §9 names. */
export const ConvInfo = Type.Object({
  conv_id: Type.String({ description: 'the peer\'s UserID (C2C) or the group ID' }),
  conv_type: Type.Integer({ description: 'TIMConvType: 1 C2C, 2 group' }),
  conv_owner: Type.String({ description: 'the viewer: the caller, or the user the admin acts for' }),
  conv_unread_num: Type.Integer({ minimum: 0, description: 'others\' sent messages after the viewer\'s read point (and after it joined, or deleted the conversation\'s history); not imported, not group tips, not revoked, not deleted by the viewer' }),
  conv_active_time: Type.Integer({ minimum: 0, description: 'server time of the newest message the viewer can see (its own saved ones included), or when it joined the group; 0 when none' }),
  conv_is_has_lastmsg: Type.Boolean({ description: 'conv_last_msg is present' }),
  conv_last_msg: Type.Optional({ ...MessageOut, description: 'the newest message of the viewer\'s history (not deleted by it), as it sees it; a tombstone if revoked' }),
  conv_is_pinned: Type.Boolean({ description: 'pinned by the viewer' }),
}, { additionalProperties: false, title: 'ConvInfo' })
export type ConvInfo = Static<typeof ConvInfo>

export const ConversationPage = Type.Object({
  conversations: Type.Array(ConvInfo, { description: 'pinned first, then by conv_active_time, newest first' }),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as `cursor` for the next page; null after the last' }),
}, { additionalProperties: false, title: 'ConversationPage' })
export type ConversationPage = Static<typeof ConversationPage>

export const ConversationListQuery = Type.Object({
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'how many, 1-100 (default 20)' })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'the next_cursor of the page before; absent: the first page' })),
}, { additionalProperties: false })

export const TotalUnread = Type.Object({
  total_unread_num: Type.Integer({ minimum: 0, description: 'the sum of conv_unread_num over all the viewer\'s conversations' }),
}, { additionalProperties: false, title: 'TotalUnread' })
