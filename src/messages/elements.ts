import type { MessageContent } from '../../db/store.js'
import { ElemType } from './schemas.js'

/**
 * The one table of where a media element keeps its bytes (CONTRACT §5): by TIMElemType,
 * each downloadable thing ("slot") with the key of its upload id, the key of its URL, and
 * its TIMDownloadType where the SDK has one (images have none, tim-reference.md §2.3).
 * Validation, the store's reference index and downloads all read it.
 */
export interface MediaSlot { id: string, url: string, downloadType?: number }

const image = (r: 'orig' | 'large' | 'thumb'): MediaSlot => ({ id: `image_elem_${r}_id`, url: `image_elem_${r}_url` })

export const MEDIA_SLOTS: Readonly<Record<number, Readonly<Record<string, MediaSlot>>>> = {
  [ElemType.Image]: { orig: image('orig'), large: image('large'), thumb: image('thumb') },
  [ElemType.Sound]: { sound: { id: 'sound_elem_file_id', url: 'sound_elem_url', downloadType: 3 } },
  [ElemType.File]: { file: { id: 'file_elem_file_id', url: 'file_elem_url', downloadType: 1 } },
  [ElemType.Video]: {
    video: { id: 'video_elem_video_id', url: 'video_elem_video_url', downloadType: 2 },
    snapshot: { id: 'video_elem_image_id', url: 'video_elem_image_url', downloadType: 0 },
  },
}

/** By TIMElemType: every key that holds a media element's bytes by reference. */
export const MEDIA_REFS_BY_TYPE: Readonly<Record<number, readonly string[]>> = Object.fromEntries(
  Object.entries(MEDIA_SLOTS).map(([type, slots]) => [type, Object.values(slots).flatMap(s => [s.id, s.url])]))

/** The element types whose bytes come by reference. */
export const MEDIA_TYPES: readonly number[] = Object.keys(MEDIA_SLOTS).map(Number)

const NO_REFS: readonly string[] = Object.freeze([])

/** Every distinct non-empty id/url value of a message's media elements: what the store finds it by. */
export function mediaRefsOf (content: MessageContent): readonly string[] {
  // Most messages have none: no Set and no array for each of them.
  let refs: Set<string> | undefined
  for (const elem of content.message_elem_array) {
    for (const key of MEDIA_REFS_BY_TYPE[elem.elem_type as number] ?? NO_REFS) {
      const v = elem[key]
      if (typeof v === 'string' && v !== '') (refs ??= new Set()).add(v)
    }
  }
  return refs === undefined ? NO_REFS : [...refs]
}
