import { Errors } from '../errors.js'
import type { MessageStore } from '../../db/store.js'
import type { Identity, MessageService } from '../messages/service.js'
import { ElemType } from '../messages/schemas.js'
import { MEDIA_SLOTS, type MediaSlot as Slot } from '../messages/elements.js'
import type { Readable } from 'node:stream'
import type { Span, Uploads, UploadRecord } from './uploads.js'

/**
 * Which bytes a download means (CONTRACT §6, TIMMsgDownloadElemToPath): an element of a
 * message the caller may see, or one of the caller's own uploads. Nothing here knows
 * HTTP; ./respond.ts sends what this finds.
 */

/** What to send: an upload the gateway stores, or a remote URL to fetch through it. */
export type Content =
  | { kind: 'stored', upload: UploadRecord, open: (span: Span) => Promise<Readable>, fileName?: string }
  | { kind: 'remote', url: string, fileName?: string }

export const Rendition = { orig: 'orig', large: 'large', thumb: 'thumb' } as const
export type Rendition = keyof typeof Rendition

type Elem = Record<string, unknown>
const text = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined
const filled = (elem: Elem, slot: Slot) => text(elem[slot.id]) !== undefined || text(elem[slot.url]) !== undefined

/** DownloadElemParam (tim-reference.md §4.4), as far as the gateway reads it. */
export interface DownloadParam { type?: number, id?: string, url?: string }

export class DownloadService {
  constructor (readonly messages: MessageService, readonly store: MessageStore, readonly media: Uploads) {}

  /** GET …/elements/{index}/content: images default to orig, then large, then thumb; videos to the video. */
  async ofElement (who: Identity, conversationId: string, msgId: string, index: number, choice: { rendition?: Rendition, snapshot?: boolean }): Promise<Content> {
    const m = await this.messages.visible(who, conversationId, msgId)
    const elem = m.content.message_elem_array[index]
    if (elem === undefined) throw Errors.contentNotFound(`message "${msgId}" has no element ${index}`)
    const slots = MEDIA_SLOTS[elem.elem_type as number]
    if (slots === undefined) throw Errors.contentNotFound(`element ${index} (elem_type ${String(elem.elem_type)}) has no content to download`)
    let slot: Slot | undefined
    if (elem.elem_type === ElemType.Image) {
      slot = choice.rendition !== undefined ? slots[choice.rendition] : [slots.orig!, slots.large!, slots.thumb!].find(s => filled(elem, s))
      if (slot === undefined || !filled(elem, slot)) throw Errors.contentNotFound(`element ${index} has no ${choice.rendition === undefined ? 'image' : `${choice.rendition} image`}`)
    } else {
      slot = elem.elem_type === ElemType.Video && choice.snapshot === true ? slots.snapshot! : Object.values(slots)[0]!
      if (!filled(elem, slot)) throw Errors.contentNotFound(`element ${index} has no ${choice.snapshot === true ? 'snapshot' : 'content'}`)
    }
    return this.#content(elem, slot, slot.id)
  }

  /**
   * POST /downloads: the id or url must be in an element of a message the caller may
   * see; the element then says where the bytes are (a foreign id falls back to its url).
   * An upload is found by either of its names, `up_…` or `/media/up_…`.
   */
  async ofParam (who: Identity, param: DownloadParam): Promise<Content> {
    const refs = [text(param.id), text(param.url)].filter((r): r is string => r !== undefined)
    if (refs.length === 0) throw Errors.invalidParameter('msg_download_elem_param_id or msg_download_elem_param_url is required')
    for (const ref of refs) {
      const upload = this.media.uploadIdOf(ref)
      const names = upload === undefined ? [ref] : [upload, `/media/${upload}`]
      const same = (v: unknown) => typeof v === 'string' && names.includes(v)
      for (const name of names) {
        // The admin as itself reads any group (as in MessageService.access).
        const m = await this.store.findByRef(name, who.actAs, who.isAdmin && who.actAs === who.caller)
        for (const elem of m?.content.message_elem_array ?? []) {
          for (const slot of Object.values(MEDIA_SLOTS[elem.elem_type as number] ?? {})) {
            // Images have no TIMDownloadType (tim-reference.md §2.3): any type value finds them.
            if (param.type !== undefined && slot.downloadType !== undefined && slot.downloadType !== param.type) continue
            if (same(elem[slot.url])) return this.#content(elem, slot, slot.url)
            if (same(elem[slot.id])) return this.#content(elem, slot, slot.id)
          }
        }
      }
    }
    throw Errors.contentNotFound('no message you can see carries this id or URL' + (param.type === undefined ? '' : ` with msg_download_elem_param_type ${param.type}`))
  }

  /** GET /media/{id}: the uploader's (or the admin's) own upload. */
  async ofUpload (who: Identity, id: string): Promise<Content> {
    const upload = await this.media.get(id)
    if (upload === undefined || (upload.owner !== who.actAs && !who.isAdmin)) throw Errors.contentNotFound(`no upload "${id}" of yours`)
    return this.#stored(upload)
  }

  #stored (upload: UploadRecord): Content {
    return { kind: 'stored', upload, open: span => this.media.open(upload, span) }
  }

  /** Where a slot's bytes are, starting from the key that named it: ours by id, else the URL. */
  async #content (elem: Elem, slot: Slot, from: string): Promise<Content> {
    const fileName = elem.elem_type === ElemType.File ? text(elem.file_elem_file_name) : undefined
    const named = { ...(fileName !== undefined && { fileName }) }
    const order = from === slot.url ? [slot.url] : [slot.id, slot.url]
    for (const key of order) {
      const value = text(elem[key])
      if (value === undefined) continue
      const uploadId = this.media.uploadIdOf(value)
      if (uploadId !== undefined) {
        const upload = await this.media.get(uploadId)
        if (upload === undefined) throw Errors.contentNotFound(`upload "${uploadId}" no longer exists`)
        return { ...this.#stored(upload), ...named }
      }
      if (key === slot.url) return { kind: 'remote', url: value, ...named }
    }
    throw Errors.contentNotFound(`${slot.id} is not an upload of this gateway and the element has no ${slot.url}`)
  }
}
