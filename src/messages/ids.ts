import { Errors } from '../errors.js'
import type { ConvRef } from '../../db/store.js'

/** TIMConvType */
export const ConvType = { C2C: 1, Group: 2 } as const
export type ConvType = typeof ConvType[keyof typeof ConvType]

const PRINTABLE = /^[\x20-\x7e]+$/

/** UserID: 1-32 bytes of printable ASCII (TIM 7003). */
export const isUserId = (s: string): boolean => s.length >= 1 && s.length <= 32 && PRINTABLE.test(s)
/** Group ID: 1-48 bytes of printable ASCII. */
export const isGroupId = (s: string): boolean => s.length >= 1 && s.length <= 48 && PRINTABLE.test(s)

/**
 * A conversation as addressed by one user, and as the store keeps it (a ConvRef): `key`
 * names the shared thread, the same from both ends of a C2C conversation, whose two users
 * are `users`.
 */
export interface Conversation extends ConvRef {
  type: ConvType
  /** The peer's UserID (C2C) or the group ID, as the caller addresses it. */
  target: string
}

/** The C2C thread between `viewer` and `peer`, as `viewer` addresses it. */
export function c2cConversation (viewer: string, peer: string): Conversation {
  const users: [string, string] = viewer < peer ? [viewer, peer] : [peer, viewer]
  // '\n' cannot occur in a UserID, so the pair is unambiguous.
  return { type: ConvType.C2C, target: peer, key: `c2c:${users[0]}\n${users[1]}`, users }
}

export const groupKey = (groupId: string): string => `group:${groupId}`

/** Parses `c2c_<userID>` / `group_<groupID>` as seen by `viewer`; 6004/7003 otherwise. */
export function parseConversationId (id: string, viewer: string): Conversation {
  const cut = id.indexOf('_')
  const prefix = cut < 0 ? '' : id.slice(0, cut)
  const target = id.slice(cut + 1)
  if (prefix === 'c2c') {
    if (!isUserId(target)) throw Errors.invalidIdentifier(`"${target}" in conversation ID`)
    return c2cConversation(viewer, target)
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
