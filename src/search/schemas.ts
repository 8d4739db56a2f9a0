import { Type, type Static } from 'typebox'
import { MessageOut } from '../messages/schemas.js'

/** MessageSearchParam and MessageSearchResult (TIMMsgSearchLocalMessages, CONTRACT §10) as TypeBox schemas. */

const Uint64 = (description: string) => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description })
const Opt = Type.Optional
const Senders = (description: string) => Opt(Type.Array(Type.String(), { maxItems: 5, description }))

export const MessageSearchParam = Type.Object({
  msg_search_param_keyword_array: Opt(Type.Array(Type.String({ minLength: 1 }), {
    maxItems: 5,
    description: '1-5 keywords, each matched as a case-insensitive substring of a message\'s text (text elements, file names, custom element desc, location desc), in any script; omitted or [] = none, allowed only with senders or types',
  })),
  msg_search_param_keyword_list_match_type: Opt(Type.Integer({ minimum: 0, maximum: 1, description: 'TIMKeywordListMatchType: 0 any keyword (default), 1 all of them' })),
  msg_search_param_send_indentifier_array: Senders('only messages from these senders (≤ 5; the SDK\'s spelling)'),
  msg_search_param_send_identifier_array: Senders('the same, spelled right (both may be given: their union counts)'),
  msg_search_param_message_type_array: Opt(Type.Array(Type.Integer({ minimum: 0, maximum: 12 }), {
    maxItems: 13,
    description: 'only messages with an element of one of these TIMElemTypes',
  })),
  msg_search_param_conv_id: Opt(Type.String({ description: 'one conversation: the bare peer UserID or group ID (absent or "": all conversations)' })),
  msg_search_param_conv_type: Opt(Type.Integer({ minimum: 0, maximum: 3, description: 'TIMConvType of msg_search_param_conv_id: 1 C2C, 2 group (required with it)' })),
  msg_search_param_search_time_position: Opt(Uint64('the newest server time searched, unix seconds (0 = now); inclusive')),
  msg_search_param_search_time_period: Opt(Uint64('seconds before the position searched (0 = no limit); inclusive')),
  msg_search_param_page_index: Opt(Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1, description: 'the page, from 0' })),
  msg_search_param_page_size: Opt(Type.Integer({ minimum: 1, maximum: 100, description: '1-100 (default 20): messages of one conversation, or conversations' })),
}, { additionalProperties: false, title: 'MessageSearchParam' })
export type MessageSearchParam = Static<typeof MessageSearchParam>

export const MessageSearchResultItem = Type.Object({
  msg_search_result_item_conv_id: Type.String({ description: 'the conversation from the caller\'s side: peer UserID or group ID' }),
  msg_search_result_item_conv_type: Type.Integer({ description: 'TIMConvType: 1 C2C, 2 group' }),
  msg_search_result_item_total_message_count: Type.Integer({ description: 'the matching messages of this conversation' }),
  msg_search_result_item_message_array: Type.Array(MessageOut, {
    description: 'one conversation: this page of its matches, newest first; all conversations: the match when it is the only one, else empty',
  }),
}, { additionalProperties: false, title: 'MessageSearchResultItem' })
export type MessageSearchResultItem = Static<typeof MessageSearchResultItem>

export const MessageSearchResult = Type.Object({
  msg_search_result_total_count: Type.Integer({ description: 'one conversation: matching messages; all conversations: conversations with a match' }),
  msg_search_result_item_array: Type.Array(MessageSearchResultItem, { description: 'this page: one item for one conversation, else a conversation per item, newest match first' }),
}, { additionalProperties: false, title: 'MessageSearchResult' })
export type MessageSearchResult = Static<typeof MessageSearchResult>
