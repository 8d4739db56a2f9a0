import { storedClientKeys } from './schemas.js'

/**
 * What a recorded response (an Idempotency-Key's first answer, replayed for 24 hours)
 * says about messages: which it carries, and the same response with one of them revoked.
 */

const MSG_ID_IN_JSON = /"message_msg_id":"([^"\\]*)"/g

/** The distinct message_msg_id values anywhere in a recorded JSON response. */
export const msgIdsIn = (body: string): string[] => [...new Set(Array.from(body.matchAll(MSG_ID_IN_JSON), m => m[1]!))]

const clientKey = new Set<string>(storedClientKeys)

/** A recorded response with every copy of message `msgId` turned into its tombstone. */
export function withTombstone (body: string, msgId: string, revoker: string): string {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk)
    if (typeof v !== 'object' || v === null) return v
    const o = v as Record<string, unknown>
    if (o.message_msg_id === msgId) {
      const tomb: Record<string, unknown> = Object.fromEntries(Object.entries(o).filter(([k]) => !clientKey.has(k)))
      return { ...tomb, message_elem_array: [], message_status: 6, message_revoker_user_id: revoker }
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, walk(x)]))
  }
  return JSON.stringify(walk(JSON.parse(body)))
}
