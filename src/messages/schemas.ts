import { Type, type Static, type TSchema, type TUnsafe } from 'typebox'

/**
 * The SDK's JSON (tim-reference.md §1-4) as TypeBox schemas: the routes validate
 * requests with them, serialize responses with them, and the OpenAPI document is made
 * from them. Request objects list every key they accept and drop the rest
 * (`additionalProperties: false` with Ajv's removeAdditional), so unknown keys are
 * ignored and never stored.
 */

/**
 * Integer keys take the SDK's ranges (CONTRACT §12). uint64 keys end at 2^53−1: beyond
 * it a JSON number is not exact (JSON.parse has already rounded 2^64 to 18446744073709552000),
 * so a maximum of MAX_SAFE_INTEGER refuses every value that could have been rounded.
 */
const Uint64 = (description: string) => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description })
/** Indexes, rands, counts, sizes, durations and dimensions. */
const Uint32 = (description: string) => Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1, description })
/** The SDK's plain `int` keys. */
const Int32 = (description: string) => Type.Integer({ minimum: -(2 ** 31), maximum: 2 ** 31 - 1, description })
/** An enum: its values. */
const Enum = (maximum: number, description: string) => Type.Integer({ minimum: 0, maximum, description })
/** A key the request does not use (read-only or informative): accepted and ignored whatever its value. */
const Ignored = (description: string) => Type.Unknown({ description: `${description}; ignored whatever its value` })
const Str = (description: string) => Type.String({ description })
const Bool = (description: string) => Type.Boolean({ description })
const Opt = <T extends TSchema>(s: T) => Type.Optional(s)
const closed = { additionalProperties: false } as const

/** Every element type a client may send, with its number (TIMElemType). */
export const ElemType = { Text: 0, Image: 1, Sound: 2, Custom: 3, File: 4, GroupTips: 5, Face: 6, Location: 7, GroupReport: 8, Video: 9, FriendChange: 10, ProfileChange: 11, Merge: 12 } as const

/**
 * elem_type of one element type: an integer const (a Literal says `number`, which adds a
 * union member in some generators), and the same as a one-value enum for generators that
 * read no `const` (openapi-typescript-codegen).
 */
const ElemTypeConst = <N extends number>(type: N, description: string) =>
  Type.Unsafe<N>({ type: 'integer', const: type, enum: [type], description }) as TUnsafe<N> & { const: N }

const elem = <P extends Record<string, TSchema>>(type: number, title: string, props: P) =>
  Type.Object({ elem_type: ElemTypeConst(type, `${type} = ${title}`), ...props }, { ...closed, title })

const imageRendition = (r: 'orig' | 'thumb' | 'large') => ({
  [`image_elem_${r}_id`]: Opt(Str(`${r} rendition: an upload id (POST /media)`)),
  [`image_elem_${r}_url`]: Opt(Str(`${r} rendition: a URL`)),
  [`image_elem_${r}_pic_width`]: Opt(Uint32(`${r} rendition width in px`)),
  [`image_elem_${r}_pic_height`]: Opt(Uint32(`${r} rendition height in px`)),
  [`image_elem_${r}_pic_size`]: Opt(Uint32(`${r} rendition size in bytes`)),
})

export const TextElem = elem(ElemType.Text, 'TextElem', {
  text_elem_content: Str('the text'),
})
export const ImageElem = elem(ElemType.Image, 'ImageElem', {
  image_elem_orig_path: Opt(Str('client-local path, kept as given')),
  image_elem_level: Opt(Enum(2, 'TIMImageLevel: 0 original, 1 compressed, 2 HD')),
  image_elem_format: Opt(Int32('0xff unknown, 1 JPG, 2 GIF, 3 PNG, 4 BMP')),
  image_elem_task_id: Opt(Int32('deprecated by the SDK; kept')),
  ...imageRendition('orig'),
  ...imageRendition('thumb'),
  ...imageRendition('large'),
})
export const SoundElem = elem(ElemType.Sound, 'SoundElem', {
  sound_elem_file_path: Opt(Str('client-local path, kept as given')),
  sound_elem_file_size: Uint32('size in bytes'),
  sound_elem_file_time: Uint32('duration in seconds'),
  sound_elem_file_id: Opt(Str('an upload id (POST /media)')),
  sound_elem_url: Opt(Str('a URL of the sound')),
  sound_elem_business_id: Opt(Int32('SDK business id; kept')),
  sound_elem_download_flag: Opt(Int32('SDK ≤ 6 download flag; kept')),
  sound_elem_task_id: Opt(Int32('deprecated by the SDK; kept')),
})
export const CustomElem = elem(ElemType.Custom, 'CustomElem', {
  custom_elem_data: Opt(Str('custom data (binary must be encoded into the string)')),
  custom_elem_desc: Opt(Str('description')),
  custom_elem_ext: Opt(Str('push extension')),
  custom_elem_sound: Opt(Str('push sound')),
})
export const FileElem = elem(ElemType.File, 'FileElem', {
  file_elem_file_path: Opt(Str('client-local path, kept as given')),
  file_elem_file_name: Str('display name'),
  file_elem_file_size: Uint32('size in bytes'),
  file_elem_file_id: Opt(Str('an upload id (POST /media)')),
  file_elem_url: Opt(Str('a URL of the file')),
  file_elem_business_id: Opt(Int32('SDK business id; kept')),
  file_elem_download_flag: Opt(Int32('SDK ≤ 6 download flag; kept')),
  file_elem_task_id: Opt(Int32('deprecated by the SDK; kept')),
})
export const FaceElem = elem(ElemType.Face, 'FaceElem', {
  face_elem_index: Uint32('face index'),
  face_elem_buf: Opt(Str('extra data (binary must be encoded into the string)')),
})
export const LocationElem = elem(ElemType.Location, 'LocationElem', {
  location_elem_desc: Opt(Str('description of the place')),
  location_elem_longitude: Type.Number({ minimum: -180, maximum: 180, description: 'longitude, -180…180' }),
  location_elem_latitude: Type.Number({ minimum: -90, maximum: 90, description: 'latitude, -90…90' }),
})
export const VideoElem = elem(ElemType.Video, 'VideoElem', {
  video_elem_video_type: Str('video file type, e.g. "mp4"'),
  video_elem_video_size: Uint32('video size in bytes'),
  video_elem_video_duration: Uint32('duration in seconds'),
  video_elem_video_path: Opt(Str('client-local path, kept as given')),
  video_elem_video_id: Opt(Str('video: an upload id (POST /media)')),
  video_elem_video_url: Opt(Str('video: a URL')),
  video_elem_business_id: Opt(Int32('SDK business id; kept')),
  video_elem_video_download_flag: Opt(Int32('SDK ≤ 6 download flag; kept')),
  video_elem_image_type: Opt(Str('snapshot file type')),
  video_elem_image_size: Opt(Uint32('snapshot size in bytes')),
  video_elem_image_width: Opt(Uint32('snapshot width in px')),
  video_elem_image_height: Opt(Uint32('snapshot height in px')),
  video_elem_image_path: Opt(Str('client-local snapshot path, kept as given')),
  video_elem_image_id: Opt(Str('snapshot: an upload id (POST /media)')),
  video_elem_image_url: Opt(Str('snapshot: a URL')),
  video_elem_image_download_flag: Opt(Int32('SDK ≤ 6 download flag; kept')),
  video_elem_task_id: Opt(Uint32('deprecated by the SDK; kept')),
})
export const MergeElem = elem(ElemType.Merge, 'MergeElem', {
  merge_elem_title: Str('title of the merged bundle'),
  merge_elem_abstract_array: Type.Array(Type.String(), { description: 'abstract lines' }),
  merge_elem_compatible_text: Type.String({ minLength: 1, description: 'text shown by SDKs that do not know merge elements' }),
  merge_elem_message_array: Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 300, description: 'the merged Messages (≤ 300)' }),
})

/**
 * GroupTipsElem (5): made by the server for membership changes; received, never sent
 * (a request with one is 6016). Only the OpenAPI document uses this schema.
 */
export const GroupTipsElem = elem(ElemType.GroupTips, 'GroupTipsElem', {
  group_tips_elem_tip_type: Uint32('TIMGroupTipType: 1 invite, 2 quit, 3 kick, 4 set admin, 5 cancel admin'),
  group_tips_elem_op_user: Str('who made the change'),
  group_tips_elem_group_id: Str('the group ID'),
  group_tips_elem_group_name: Str('the group name'),
  group_tips_elem_user_array: Type.Array(Type.String(), { description: 'the UserIDs the change is about' }),
  group_tips_elem_time: Uint64('when, unix seconds'),
  group_tips_elem_member_num: Uint32('members after the change'),
})

/** The element schema of each type a client may send. */
export const sendableElems: ReadonlyArray<TSchema & { properties: { elem_type: { const: number } } }> =
  [TextElem, ImageElem, SoundElem, CustomElem, FileElem, FaceElem, LocationElem, VideoElem, MergeElem]

/**
 * `elem_type` picks the schema that applies: if/then/else, one type after the other (text
 * first), not an allOf of if/then. Ajv tries every `if` of an allOf, and each that fails
 * (all but one) allocates its error: for an import of 1000, 8000 of them.
 */
const byElemType = sendableElems.reduceRight<Record<string, unknown> | undefined>((otherwise, s) => ({
  if: { properties: { elem_type: { const: s.properties.elem_type.const } } },
  then: s,
  ...(otherwise !== undefined && { else: otherwise }),
}), undefined)

/** An element in a request: `elem_type` picks the schema that applies. */
export const ElemIn = Type.Unsafe<Static<typeof TextElem> | Record<string, unknown>>({
  type: 'object',
  // The OpenAPI document shows every schema titled Elem as ElemUnion.
  title: 'Elem',
  description: 'A message element. `elem_type` picks its keys: 0 text, 1 image, 2 sound, 3 custom, 4 file, 6 face, 7 location, 9 video, 12 merge. ' +
    'Types 5, 8, 10 and 11 are server-made and refused with 6016, as are unknown types. Unknown keys are dropped.',
  required: ['elem_type'],
  properties: { elem_type: Int32('TIMElemType') },
  ...byElemType,
})

/**
 * An element in a response: whatever was stored, with its elem_type. Serialized as it
 * is (the keys of its type, validated when it came in); the OpenAPI document shows it as
 * ElemUnion, by its title.
 */
export const ElemOut = Type.Object({ elem_type: Type.Integer({ description: 'TIMElemType' }) }, {
  additionalProperties: true,
  title: 'Elem',
})

/**
 * Elem as the OpenAPI document shows it, in requests and responses alike: one of the
 * element types, picked by `elem_type`. Group tips (5) are received only (6016 when sent);
 * they are in the one union so that a received Message can be passed back (import, save).
 */
export const ElemUnion = Type.Unsafe({
  oneOf: [...sendableElems, GroupTipsElem],
  title: 'Elem',
  description: 'A message element: `elem_type` picks its keys (0 text, 1 image, 2 sound, 3 custom, 4 file, 5 group tips, 6 face, 7 location, 9 video, 12 merge). ' +
    'Group tips are made by the server: received, refused when sent (6016), as are types 8, 10, 11 and unknown types. Unknown keys are ignored.',
})

const loose = (description: string) => Type.Object({}, { additionalProperties: true, description })

/** Keys a client may set; they are stored and returned as given. */
const clientKeys = {
  message_priority: Opt(Enum(3, 'TIMMsgPriority: 0 high … 3 lowest')),
  message_platform: Opt(Enum(5, 'TIMPlatform of the sender: 0 other, 1 Windows, 2 Android, 3 iOS, 4 Mac, 5 simulator')),
  message_custom_int: Opt(Uint32('custom int')),
  message_custom_str: Opt(Str('custom string')),
  message_cloud_custom_str: Opt(Str('custom data stored with the message and delivered to the peer')),
  message_need_read_receipt: Opt(Bool('ask for read receipts')),
  message_support_message_extension: Opt(Bool('enable message extensions')),
  message_is_excluded_from_unread_count: Opt(Bool('do not count toward unread')),
  message_group_at_user_array: Opt(Type.Array(Type.String(), { description: '@-mentioned UserIDs (`__kImSDK_MessageAtALL__` = all)' })),
  message_sender_profile: Opt(loose('sender profile (UserProfile), kept as given')),
  message_sender_group_member_info: Opt(loose('sender group member info, kept as given')),
  message_excluded_from_last_message: Opt(Bool('do not become the conversation\'s last message')),
  message_excluded_from_content_moderation: Opt(Bool('skip moderation')),
  message_disable_cloud_message_pre_hook: Opt(Bool('skip the before-send webhook')),
  message_disable_cloud_message_post_hook: Opt(Bool('skip the after-send webhook')),
  message_target_group_member_array: Opt(Type.Array(Type.String(), { description: 'targeted group message recipients' })),
  message_excluded_from_muting: Opt(Bool('ignore mute')),
  message_offline_push_config: Opt(loose('OfflinePushConfig')),
}

/** The names of the keys of clientKeys plus the element array: what a message stores. */
export const storedClientKeys = ['message_elem_array', ...Object.keys(clientKeys)] as const

/** Keys the SDK lists with the server's but that a write uses: the client's values, checked. */
const usedKeys = {
  message_sender: Opt(Str('sender UserID: the caller (the admin may name a participant)')),
  message_client_time: Opt(Uint64('client time, unix seconds (the server time when not given)')),
  message_rand: Opt(Uint32('random number: the client\'s value is kept (else a random 32-bit unsigned)')),
  message_is_online_msg: Opt(Bool('online-only message: delivered to live listeners, never stored')),
}

/**
 * Keys the server fills (CONTRACT §1): a returned Message can be passed back, so they are
 * accepted on writes and ignored whatever their value, even one out of any range.
 */
const readOnlyKeys = {
  message_conv_id: Opt(Ignored('server-filled: conversation ID')),
  message_conv_type: Opt(Ignored('server-filled: TIMConvType')),
  message_server_time: Opt(Ignored('server-filled: server time (import and save use it: see their body)')),
  message_is_from_self: Opt(Ignored('server-filled')),
  message_is_read: Opt(Ignored('server-filled')),
  message_is_peer_read: Opt(Ignored('server-filled')),
  message_status: Opt(Ignored('server-filled: TIMMsgStatus')),
  message_unique_id: Opt(Ignored('server-filled: numeric unique id')),
  message_msg_id: Opt(Ignored('server-filled: string unique id')),
  message_seq: Opt(Ignored('server-filled: sequence number')),
  message_revoker_user_id: Opt(Ignored('server-filled: who revoked it')),
}

/** Keys accepted only on input. */
const inputOnlyKeys = {
  message_offlie_push_config: Opt(loose('old spelling of message_offline_push_config (accepted, returned under the new name)')),
  message_is_forward_message: Opt(Bool('set when re-sending an existing message')),
  message_custom_moderation_configuration_id: Opt(Str('moderation configuration (send-time only, not stored)')),
}

const messageInKeys = {
  message_elem_array: Type.Array(ElemIn, { minItems: 1, description: 'the elements; at least one' }),
  ...clientKeys,
  ...usedKeys,
  ...readOnlyKeys,
  ...inputOnlyKeys,
}

/** A Message in a request body (send, batch send). */
export const MessageIn = Type.Object(messageInKeys, {
  ...closed,
  title: 'NewMessage',
  description: 'A Message to send, with the SDK\'s keys. Server-filled keys are accepted and ignored whatever their value; unknown keys are dropped.',
})
export type MessageIn = Static<typeof MessageIn>

/** A Message for import and save, whose message_server_time is the message's time. */
export const TimedMessageIn = Type.Object({
  ...messageInKeys,
  message_server_time: Opt(Uint64('the message\'s time, unix seconds (import: else message_client_time, else now; save: else now)')),
}, {
  ...closed,
  title: 'TimedMessage',
  description: 'A Message as for send, except that message_server_time is used: it places the message in history. Other server-filled keys are accepted and ignored.',
})
export type TimedMessageIn = Static<typeof TimedMessageIn>

/** A Message in a response, as the caller sees it. */
export const MessageOut = Type.Object({
  message_elem_array: Type.Array(ElemOut, { description: 'the elements (empty once revoked)' }),
  ...clientKeys,
  message_conv_id: Str('conversation ID from the caller\'s side: the peer\'s UserID (C2C) or the group ID'),
  message_conv_type: Type.Integer({ description: 'TIMConvType: 1 C2C, 2 group' }),
  message_sender: Str('sender UserID'),
  message_client_time: Uint64('client time, unix seconds'),
  message_server_time: Uint64('server time, unix seconds'),
  message_is_from_self: Bool('the caller sent it'),
  message_is_read: Bool('the caller has read it (one\'s own messages always)'),
  message_is_peer_read: Bool('C2C: the peer has read it'),
  message_is_online_msg: Bool('online-only message'),
  message_status: Type.Integer({ description: 'TIMMsgStatus: 2 sent, 4 deleted (for the caller), 5 imported/saved, 6 revoked' }),
  message_unique_id: Uint64('numeric unique id'),
  message_msg_id: Str('string unique id, URL-safe; the id used in paths'),
  message_rand: Uint32('random number'),
  message_seq: Uint64('per-conversation sequence number; 0 for saved messages'),
  message_revoker_user_id: Opt(Str('who revoked it')),
}, { additionalProperties: false, title: 'Message', description: 'A stored Message as the caller sees it. It may be passed back as it is: to revoke, read, delete, find (its locator keys), import or save.' })
export type MessageOut = Static<typeof MessageOut>

/** MsgLocator (TIMMsgFindByMsgLocatorList). seq + rand + time find the message; the rest is informative. */
export const MsgLocator = Type.Object({
  message_locator_seq: Uint64('message_seq of the message'),
  message_locator_rand: Uint32('message_rand of the message'),
  message_locator_time: Uint64('message_server_time of the message'),
  message_locator_is_self: Opt(Ignored('informative, not a filter')),
  message_locator_is_revoked: Opt(Ignored('informative, not a filter')),
  message_locator_unique_id: Opt(Ignored('informative, not a filter')),
  message_locator_conv_id: Opt(Ignored('informative: the conversation comes from the path')),
  message_locator_conv_type: Opt(Ignored('informative: the conversation comes from the path')),
}, { ...closed, title: 'MsgLocator' })

/** The locator keys of a Message that names a message: checked when they are used. */
const anchorLocator = {
  message_seq: Uint64('message_seq of the message'),
  message_rand: Uint32('message_rand of the message'),
  message_server_time: Uint64('message_server_time of the message'),
}
const locatorKey = (description: string) => Type.Unsafe<number>({ description })

/**
 * An anchor message: found by message_msg_id, else by seq + rand + time. `{}` is no anchor.
 * The three locator keys are used, so ranged, only when there is no message_msg_id
 * (if/else): a Message passed back is found by its id and the rest of it is ignored.
 */
export const AnchorMessage = Type.Object({
  message_msg_id: Opt(Type.String({ maxLength: 64, description: 'the anchor\'s id' })),
  message_seq: Opt(locatorKey('uint64 (0…2^53−1): with message_rand and message_server_time, the locator when there is no message_msg_id; ignored beside one')),
  message_rand: Opt(locatorKey('uint32: see message_seq')),
  message_server_time: Opt(locatorKey('uint64 (0…2^53−1): see message_seq')),
}, {
  additionalProperties: true,
  if: { required: ['message_msg_id'], properties: { message_msg_id: {} } },
  else: { properties: anchorLocator },
  title: 'AnchorMessage',
  description: 'A Message (e.g. one returned before); only its identifying keys are read, every other key is ignored whatever its value',
})
export type AnchorMessage = Static<typeof AnchorMessage>

/** MsgGetMsgListParam (TIMMsgGetMsgList). */
export const GetMsgListParam = Type.Object({
  msg_getmsglist_param_last_msg: Opt(Type.Union([AnchorMessage, Type.String({ maxLength: 64, description: 'a message_msg_id' })], { description: 'exclusive anchor; `{}` or absent: start at the newest (or, forward, the oldest)' })),
  msg_getmsglist_param_count: Opt(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'how many, 1-100 (default 20)' })),
  msg_getmsglist_param_is_forward: Opt(Bool('true: newer than the anchor, oldest first; false (default): older, newest first')),
  msg_getmsglist_param_is_ramble: Opt(Bool('accepted; the gateway always answers from the shared history')),
  msg_getmsglist_param_is_remble: Opt(Bool('old spelling of msg_getmsglist_param_is_ramble')),
  msg_getmsglist_param_time_begin: Opt(Uint64('only messages at or after this unix time')),
  msg_getmsglist_param_time_period: Opt(Uint64('with time_begin: only messages before time_begin + this many seconds')),
  msg_getmsglist_param_last_msg_seq: Opt(Uint64('SDK group seq anchor: not supported (400 6017); use msg_getmsglist_param_last_msg')),
  msg_getmsglist_param_message_seq_array: Opt(Type.Array(Uint64('a seq'), { description: 'SDK group seq list: not supported (400 6017); use find with locators' })),
  msg_getmsglist_param_message_type_array: Opt(Type.Array(Enum(12, 'a TIMElemType'), { description: 'only messages with an element of one of these TIMElemTypes; empty = all' })),
}, { ...closed, title: 'MsgGetMsgListParam' })
export type GetMsgListParam = Static<typeof GetMsgListParam>

/** The same parameter as a query string, for GET …/messages. */
export const GetMsgListQuery = Type.Object({
  count: Opt(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'how many, 1-100 (default 20)' })),
  last_msg_id: Opt(Type.String({ minLength: 1, maxLength: 64, description: 'exclusive anchor: a message_msg_id' })),
  is_forward: Opt(Bool('true: newer than the anchor, oldest first; false (default): older, newest first')),
  time_begin: Opt(Uint64('only messages at or after this unix time')),
  time_period: Opt(Uint64('with time_begin: only messages before time_begin + this many seconds')),
  message_type: Opt(Type.Array(Enum(12, 'a TIMElemType'), { description: 'TIMElemType filter; repeat the parameter for several' })),
}, closed)

/** MsgDeleteParam (TIMMsgDelete). */
export const DeleteParam = Type.Object({
  msg_delete_param_msg: Opt(Type.Union([AnchorMessage, Type.String({ maxLength: 64, description: 'a message_msg_id' })], { description: 'the message to delete for the caller; absent or `{}`: all of the caller\'s history here' })),
  msg_delete_param_is_ramble: Opt(Bool('accepted; deletion is always for the caller only')),
  msg_delete_param_is_remble: Opt(Bool('old spelling of msg_delete_param_is_ramble')),
}, { ...closed, title: 'MsgDeleteParam' })

/** MsgBatchSendParam (TIMMsgBatchSend). */
export const BatchSendParam = Type.Object({
  msg_batch_send_param_identifier_array: Type.Array(Type.String(), { description: 'recipient UserIDs: 1-500 after duplicates collapse (else 90011)' }),
  msg_batch_send_param_msg: MessageIn,
}, { ...closed, title: 'MsgBatchSendParam' })

/** MsgBatchSendResult: one per recipient. */
export const BatchResult = Type.Object({
  msg_batch_send_result_identifier: Str('recipient UserID'),
  msg_batch_send_result_code: Type.Integer({ description: '0, or the TIM error code for this recipient' }),
  msg_batch_send_result_desc: Str('empty, or what went wrong for this recipient'),
  msg_batch_send_result_msg: Opt(MessageOut),
}, { title: 'MsgBatchSendResult' })
export type BatchResult = Static<typeof BatchResult>

export const ConversationParams = Type.Object({
  conversationID: Type.String({ minLength: 1, description: '`c2c_<userID>` or `group_<groupID>`, URL-encoded (else 6004, or 7003 for a bad UserID)', examples: ['c2c_user2'] }),
})

export const ErrorBody = Type.Object({
  code: Type.Integer({ description: 'TIM error code (never 0)' }),
  desc: Type.String({ description: 'what was wrong' }),
}, { title: 'ErrorBody', description: 'A TIM error, as TIMCommCallback(code, desc) gives it' })
