import type { MessageContent, SearchEntry } from './store.js'

/**
 * The search index that both adapters keep (docs/search.md): each conversation's messages
 * in blocks of BLOCK_SIZE, and per block a Bloom filter of the unigrams and bigrams of
 * their text with the text itself (the entries). A keyword's grams select the blocks
 * whose filter has all of them; the entries of those blocks are then matched exactly. What
 * one search reads is the caller's blocks only, whatever the size of the history; what a
 * write adds is one block row per conversation it touches.
 *
 * This file is the index's meaning, shared by the adapters and the search service: what
 * text a message has, the filter's bits, a block's rows.
 */

/** Messages per block: a shared message's block is (seq − 1) / BLOCK_SIZE. */
export const BLOCK_SIZE = 16
/** Bits of a block's filter (PostgreSQL: bit(4096)). */
export const BLOOM_BITS = 4096
export const BLOOM_BYTES = BLOOM_BITS / 8
const MASK = BLOOM_BITS - 1

/** The element keys whose text is searchable, by TIMElemType (CONTRACT §10). */
const TEXT_KEYS: Readonly<Record<number, string>> = { 0: 'text_elem_content', 3: 'custom_elem_desc', 4: 'file_elem_file_name', 7: 'location_elem_desc' }

/** Case folded as both sides of a match are: lower case (a keyword goes through this too). */
export const fold = (s: string): string => s.toLowerCase()

/** A message's searchable texts, folded: one per element that has one, empty ones left out. */
export function searchTexts (content: MessageContent): string[] {
  const out: string[] = []
  for (const elem of content.message_elem_array) {
    const key = TEXT_KEYS[elem.elem_type as number]
    const v = key === undefined ? undefined : elem[key]
    if (typeof v === 'string' && v !== '') out.push(fold(v))
  }
  return out
}

/** murmur3's finalizer: every input bit moves every output bit. */
function mix (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** Calls `bit` with the three filter positions of each unigram and bigram of `text` (by code point). */
function eachBit (text: string, bit: (pos: number) => void): void {
  let prev = -1
  for (const ch of text) {
    const cp = ch.codePointAt(0)!
    const u = mix(cp + 0x9e3779b9)
    bit(u & MASK)
    bit((u >>> 12) & MASK)
    bit(mix(u) & MASK)
    if (prev >= 0) {
      const b = mix(Math.imul(prev, 0x01000193) ^ (cp + 0x7f4a7c15))
      bit(b & MASK)
      bit((b >>> 12) & MASK)
      bit(mix(b) & MASK)
    }
    prev = cp
  }
}

/** Adds the grams of `texts` to a filter. */
export function addToBloom (bloom: Uint8Array, texts: readonly string[]): void {
  for (const text of texts) eachBit(text, pos => { bloom[pos >>> 3]! |= 0x80 >>> (pos & 7) })
}

/** A filter of `entries` alone (a revoke rebuilds its block's with what is left). */
export function bloomOf (entries: readonly SearchEntry[]): Buffer {
  const bloom = Buffer.alloc(BLOOM_BYTES)
  for (const e of entries) addToBloom(bloom, e.texts)
  return bloom
}

/** The filter of a (folded) keyword: a block may hold it only where all these bits are set. */
export function keywordBloom (keyword: string): Buffer {
  const bloom = Buffer.alloc(BLOOM_BYTES)
  addToBloom(bloom, [keyword])
  return bloom
}

/** Every set bit of `mask` is set in `bloom`. */
export function bloomHas (bloom: Uint8Array, mask: Uint8Array): boolean {
  for (let i = 0; i < mask.length; i++) {
    const m = mask[i]!
    if (m !== 0 && ((bloom[i] ?? 0) & m) !== m) return false
  }
  return true
}

/** What a message brings to its block. */
export interface Indexed {
  id: number
  convKey: string
  seq: number
  serverTime: number
  sender: string
  elemMask: number
  content: MessageContent
}

/** One message of a block's entries: `[id, server_time, seq, sender, elem_mask, [texts]]`. */
export const entryOf = (m: Indexed): SearchEntry => ({
  convKey: m.convKey, id: m.id, serverTime: m.serverTime, seq: m.seq, sender: m.sender, elemMask: m.elemMask, texts: searchTexts(m.content),
})

const entryJson = (e: SearchEntry): string => JSON.stringify([e.id, e.serverTime, e.seq, e.sender, e.elemMask, e.texts])

/** A block's entries as stored: a JSON array, appended to as text (see appendEntries). */
export const entriesJson = (entries: readonly SearchEntry[]): string => `[${entries.map(entryJson).join(',')}]`

/** `more` (a stored entries array) after `stored`: the concatenation both stores do in SQL too. */
export const appendEntries = (stored: string, more: string): string => stored === '[]' ? more : more === '[]' ? stored : `${stored.slice(0, -1)},${more.slice(1)}`

type EntryRow = [number, number, number, string, number, string[]]

/** A block's stored entries, of conversation `convKey`. */
export function parseEntries (convKey: string, json: string): SearchEntry[] {
  return (JSON.parse(json) as EntryRow[]).map(([id, serverTime, seq, sender, elemMask, texts]) => ({ convKey, id, serverTime, seq, sender, elemMask, texts }))
}

/** The block of a shared message by its seq, or of a saved one by its owner's count there. */
export const blockOf = (n: number): number => Math.floor((n - 1) / BLOCK_SIZE)

/** A block being written: its filter and its entries (as stored text), and what the write adds. */
export interface PendingBlock {
  convKey: string
  owner: string
  block: number
  bloom: Buffer
  entries: string
}

/** Folds a message into the blocks pending in a write (creating its block's from `load`, when it has none yet). */
export function addPending (pending: Map<string, PendingBlock>, m: Indexed, owner: string, n: number,
  load: (convKey: string, owner: string, block: number) => { bloom: Buffer, entries: string } | undefined): PendingBlock {
  const block = blockOf(n)
  const key = `${m.convKey}\n${owner}\n${block}`
  let p = pending.get(key)
  if (p === undefined) {
    const stored = load(m.convKey, owner, block)
    p = { convKey: m.convKey, owner, block, bloom: stored?.bloom ?? Buffer.alloc(BLOOM_BYTES), entries: stored?.entries ?? '[]' }
    pending.set(key, p)
  }
  const e = entryOf(m)
  addToBloom(p.bloom, e.texts)
  p.entries = appendEntries(p.entries, entriesJson([e]))
  return p
}
