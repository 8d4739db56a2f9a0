import { Errors } from '../errors.js'
import type { MessageContent } from '../../db/store.js'
import { knownContentJson } from '../../db/rows.js'
import { MEDIA_REFS_BY_TYPE } from './elements.js'
import { ElemType, storedClientKeys, type MessageIn } from './schemas.js'

/** CONTRACT §5: the serialized element array plus message_cloud_custom_str. */
export const MAX_MESSAGE_BYTES = 12 * 1024

const SERVER_MADE = new Set<number>([ElemType.GroupTips, ElemType.GroupReport, ElemType.FriendChange, ElemType.ProfileChange])
const SENDABLE = new Set<number>([ElemType.Text, ElemType.Image, ElemType.Sound, ElemType.Custom, ElemType.File, ElemType.Face, ElemType.Location, ElemType.Video, ElemType.Merge])


const isBlank = (v: unknown) => v === undefined || v === ''

/** An element's path, made only for an error: every message of an import of 1000 passes through toContent. */
const elemAt = (where: string, i: number) => `${where}message_elem_array[${i}]`

/** Whether `value` holds an integer beyond 2^53−1 anywhere (no paths built: the check runs on every stored key). */
function holdsRoundedInteger (value: unknown): boolean {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === 'number') {
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) return true
    } else if (Array.isArray(v)) {
      for (const child of v) stack.push(child)
    } else if (typeof v === 'object' && v !== null) {
      for (const key in v) stack.push((v as Record<string, unknown>)[key])
    }
  }
  return false
}

/**
 * The path of the first integer beyond 2^53−1 (either sign) in `value`, which is kept as
 * given (merged messages, profiles, push configs: objects the schemas do not type).
 * JSON.parse has already rounded such a number, so storing it would keep another value.
 * Iterative: a body may nest deeper than the stack. For a value that holdsRoundedInteger.
 */
function roundedIntegerAt (value: unknown, path: string): string {
  const stack: Array<[unknown, string]> = [[value, path]]
  // There is one: the walk ends at it.
  for (;;) {
    const [v, at] = stack.pop()!
    if (typeof v === 'number') {
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) return at
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${at}[${i}]`])
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, child] of Object.entries(v).reverse()) stack.push([child, `${at}.${k}`])
    }
  }
}

/** Every key a content may be stored with, the old spelling of the push config's too. */
const STORED_KEYS: ReadonlySet<string> = new Set<string>([...storedClientKeys, 'message_offlie_push_config'])

/**
 * Does the message carry a stored key besides its elements? Asked of its own few keys:
 * most messages (an import's 1000) have none, and looking each stored key up in every
 * message cost more than the rest of the checks.
 */
function storesMore (source: Record<string, unknown>): boolean {
  for (const key in source) if (key !== 'message_elem_array' && source[key] !== undefined && STORED_KEYS.has(key)) return true
  return false
}

/** What JSON.stringify({ message_elem_array }) adds to the elements' own text: `{"message_elem_array":` and `}`. */
const ELEMS_ALONE_BYTES = '{"message_elem_array":}'.length

/**
 * Checks the rules of CONTRACT §5 that a schema cannot say (types clients may not
 * send, one sound and one file, a reference per media element, the 12 KB limit) and
 * returns what is stored: the client keys only, under their current names.
 */
export function toContent (msg: MessageIn, where = ''): { content: MessageContent, elemMask: number } {
  let elemMask = 0
  let sounds = 0
  let files = 0
  msg.message_elem_array.forEach((elem, i) => {
    const type = elem.elem_type as number
    if (SERVER_MADE.has(type)) throw Errors.invalidElem(`${elemAt(where, i)}: elem_type ${type} is made by the server and cannot be sent`)
    if (!SENDABLE.has(type)) throw Errors.invalidElem(`${elemAt(where, i)}: unknown elem_type ${type}`)
    if ((type === ElemType.Sound && ++sounds > 1) || (type === ElemType.File && ++files > 1)) {
      throw Errors.invalidElem(`${elemAt(where, i)}: a message may carry at most one ${type === ElemType.Sound ? 'sound' : 'file'} element`)
    }
    // At least one of the keys that carry a media element's bytes is required.
    const refs = MEDIA_REFS_BY_TYPE[type]
    if (refs !== undefined && refs.every(k => isBlank((elem as Record<string, unknown>)[k]))) {
      throw Errors.invalidParameter(`${elemAt(where, i)}: one of ${refs.join(', ')} is required`)
    }
    elemMask |= 1 << type
  })

  const source = msg as Record<string, unknown>
  const more = storesMore(source)
  let content: Record<string, unknown> = { message_elem_array: msg.message_elem_array }
  if (more) {
    content = {}
    for (const key of storedClientKeys) {
      if (source[key] !== undefined) content[key] = source[key]
    }
    if (content.message_offline_push_config === undefined && msg.message_offlie_push_config !== undefined) {
      content.message_offline_push_config = msg.message_offlie_push_config
    }
  }
  // The schemas range every key they type; what they leave untyped is checked here.
  for (const key in content) {
    const value = content[key]
    if (holdsRoundedInteger(value)) {
      throw Errors.invalidParameter(`${roundedIntegerAt(value, `${where}${key}`)} is an integer beyond 2^53-1: JSON cannot carry it exactly, and it is never stored rounded`)
    }
  }
  if (!more) {
    // Elements alone (most messages): the stored text in one piece, kept with the content
    // through the whole write (not the three pieces it was concatenated from).
    const text = JSON.stringify(content)
    const size = Buffer.byteLength(text) - ELEMS_ALONE_BYTES
    if (size > MAX_MESSAGE_BYTES) throw Errors.messageTooLarge(size)
    knownContentJson(content as MessageContent, text)
    return { content: content as MessageContent, elemMask }
  }
  const elems = JSON.stringify(msg.message_elem_array)
  const size = Buffer.byteLength(elems) + Buffer.byteLength(msg.message_cloud_custom_str ?? '')
  if (size > MAX_MESSAGE_BYTES) throw Errors.messageTooLarge(size)
  // The stored text, from the elements' text just made (the first key, as storedClientKeys
  // lists it): JSON.stringify(content) character for character, the elements serialized once.
  let text = `{"message_elem_array":${elems}`
  for (const key in content) if (key !== 'message_elem_array') text += `,${JSON.stringify(key)}:${JSON.stringify(content[key])}`
  knownContentJson(content as MessageContent, `${text}}`)
  return { content: content as MessageContent, elemMask }
}

/** What the rules ask of the upload store (src/media/uploads.ts). */
export interface MediaRefs {
  /** The upload id an element value names (`up_…` or `/media/up_…`); undefined when it is not one of ours. */
  uploadIdOf (ref: string): string | undefined
  /** Who uploaded it; undefined when there is no such upload. */
  ownerOf (id: string): Promise<string | undefined>
}

/**
 * Every element value that names one of our uploads must name an existing upload of the
 * message's sender (any upload when the caller is the admin): unknown → 6017 naming the
 * key, another user's → 403. Values not in our format (ids of imported history) pass.
 */
export async function checkMediaRefs (msg: MessageIn, sender: string, isAdmin: boolean, media: MediaRefs, where = ''): Promise<void> {
  for (const [i, elem] of msg.message_elem_array.entries()) {
    for (const key of MEDIA_REFS_BY_TYPE[elem.elem_type as number] ?? []) {
      const value = (elem as Record<string, unknown>)[key]
      const id = typeof value === 'string' ? media.uploadIdOf(value) : undefined
      if (id === undefined) continue
      const at = `${where}message_elem_array[${i}].${key}`
      const owner = await media.ownerOf(id)
      if (owner === undefined) throw Errors.invalidParameter(`${at}: there is no upload "${id}"`)
      if (owner !== sender && !isAdmin) throw Errors.permissionDenied(`${at}: upload "${id}" belongs to another user; only its uploader may send it`)
    }
  }
}

/** The bit mask of a TIMElemType filter; 0 (no filter) for an empty list. */
export const elemMaskOf = (types: readonly number[] | undefined): number =>
  (types ?? []).reduce((mask, t) => mask | (1 << t), 0)
