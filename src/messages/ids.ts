import { Errors } from '../errors.js'

/** TIMConvType */
export const ConvType = { C2C: 1, Group: 2 } as const
export type ConvType = typeof ConvType[keyof typeof ConvType]

const PRINTABLE = /^[\x20-\x7e]+$/

/** UserID: 1-32 bytes of printable ASCII (TIM 7003). */
export const isUserId = (s: string): boolean => s.length >= 1 && s.length <= 32 && PRINTABLE.test(s)
/** Group ID: 1-48 bytes of printable ASCII. */
export const isGroupId = (s: string): boolean => s.length >= 1 && s.length <= 48 && PRINTABLE.test(s)

/**
 * A conversation as addressed by one user. `key` names the shared thread in storage:
 * both ends of a C2C conversation get the same key.
 */
export interface Conversation {
  type: ConvType
  /** The peer's UserID (C2C) or the group ID, as the caller addresses it. */
  target: string
  key: string
}

/** The storage key of the C2C thread between two users, the same from both ends. */
export function c2cKey (a: string, b: string): string {
  // '\n' cannot occur in a UserID, so the pair is unambiguous.
  return a < b ? `c2c:${a}\n${b}` : `c2c:${b}\n${a}`
}

export const groupKey = (groupId: string): string => `group:${groupId}`

/** Parses `c2c_<userID>` / `group_<groupID>` as seen by `viewer`; 6004/7003 otherwise. */
export function parseConversationId (id: string, viewer: string): Conversation {
  const cut = id.indexOf('_')
  const prefix = cut < 0 ? '' : id.slice(0, cut)
  const target = id.slice(cut + 1)
  if (prefix === 'c2c') {
    if (!isUserId(target)) throw Errors.invalidIdentifier(`"${target}" in conversation ID`)
    return { type: ConvType.C2C, target, key: c2cKey(viewer, target) }
  }
  if (prefix === 'group' && isGroupId(target)) {
    return { type: ConvType.Group, target, key: groupKey(target) }
  }
  throw Errors.invalidConversation(id)
}

/** The conversation ID (message_conv_id) of a stored thread from `viewer`'s side. */
export function convIdFor (key: string, viewer: string): { convId: string, convType: ConvType } {
  if (key.startsWith('group:')) return { convId: key.slice(6), convType: ConvType.Group }
  const [a = '', b = ''] = key.slice(4).split('\n')
  return { convId: viewer === a ? b : a, convType: ConvType.C2C }
}

/** The message_msg_id of a stored message: unique id, client time and rand, URL-safe. */
export const formatMsgId = (uniqueId: number, clientTime: number, rand: number): string => `${uniqueId}-${clientTime}-${rand}`

/** The unique id inside a message_msg_id, or undefined when it cannot be one of ours. */
export function parseMsgId (msgId: string): number | undefined {
  const m = /^(\d{1,16})-\d{1,20}-\d{1,20}$/.exec(msgId)
  if (m === null) return undefined
  const id = Number(m[1])
  return Number.isSafeInteger(id) && id > 0 ? id : undefined
}
