import { createHmac, timingSafeEqual } from 'node:crypto'
import type { ConversationPosition } from '../../db/store.js'

/** Bytes of the MAC a cursor carries. */
const MAC_BYTES = 16

/**
 * next_cursor: the position of a page's last conversation in list order, for one viewer,
 * signed with a key derived from the gateway's secret, so that a cursor the gateway did not
 * make (for this viewer) is told apart: `base64url(JSON [pinned, active time, key]).mac`.
 */
export class CursorCodec {
  readonly #key: Buffer

  constructor (secret: string) {
    this.#key = createHmac('sha256', secret).update('timgate conversation cursor v1').digest()
  }

  encode (viewer: string, p: ConversationPosition): string {
    const payload = Buffer.from(JSON.stringify([p.pinned ? 1 : 0, p.activeTime, p.convKey])).toString('base64url')
    return `${payload}.${this.#mac(viewer, payload).toString('base64url')}`
  }

  /** The position, or undefined when this is not a cursor the gateway made for `viewer`. */
  decode (viewer: string, cursor: string): ConversationPosition | undefined {
    const [payload, mac, extra] = cursor.split('.')
    if (payload === undefined || mac === undefined || extra !== undefined) return undefined
    const given = Buffer.from(mac, 'base64url')
    if (given.length !== MAC_BYTES || !timingSafeEqual(given, this.#mac(viewer, payload))) return undefined
    // Signed by us: its payload is ours, as we wrote it.
    const [pinned, activeTime, convKey] = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as [number, number, string]
    return { pinned: pinned === 1, activeTime, convKey }
  }

  #mac (viewer: string, payload: string): Buffer {
    return createHmac('sha256', this.#key).update(`${viewer}\n${payload}`).digest().subarray(0, MAC_BYTES)
  }
}
