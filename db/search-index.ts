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

/** Sets the three filter bits of a gram's hash. */
function set3 (bloom: Uint8Array, h: number): void {
  let pos = h & MASK
  bloom[pos >>> 3]! |= 0x80 >>> (pos & 7)
  pos = (h >>> 12) & MASK
  bloom[pos >>> 3]! |= 0x80 >>> (pos & 7)
  pos = mix(h) & MASK
  bloom[pos >>> 3]! |= 0x80 >>> (pos & 7)
}

/** Adds the unigrams and bigrams (by code point) of `texts` to a filter. Hot: every message written runs it. */
export function addToBloom (bloom: Uint8Array, texts: readonly string[]): void {
  for (const text of texts) {
    let prev = -1
    for (let i = 0; i < text.length; i++) {
      let cp = text.charCodeAt(i)
      if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < text.length) {
        const lo = text.charCodeAt(i + 1)
        if (lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)
          i++
        }
      }
      set3(bloom, mix(cp + 0x9e3779b9))
      if (prev >= 0) set3(bloom, mix(Math.imul(prev, 0x01000193) ^ (cp + 0x7f4a7c15)))
      prev = cp
    }
  }
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
const entryJson = (e: Omit<SearchEntry, 'convKey'>): string =>
  `[${e.id},${e.serverTime},${e.seq},${JSON.stringify(e.sender)},${e.elemMask},${JSON.stringify(e.texts)}]`

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

/** A block being written: its filter, what it held (stored entries) and the entries the write adds. */
export interface PendingBlock {
  convKey: string
  owner: string
  block: number
  bloom: Buffer
  stored: string
  added: string[]
}

/** The entries of a pending block as they are to be stored. */
export const pendingEntries = (p: PendingBlock): string => appendEntries(p.stored, `[${p.added.join(',')}]`)

/** The block pending in a write for (convKey, owner, block), made from `load` (what it holds) when it has none yet. */
export function pendingBlock (pending: Map<string, PendingBlock>, convKey: string, owner: string, block: number,
  load: (convKey: string, owner: string, block: number) => { bloom: Buffer, entries: string } | undefined): PendingBlock {
  const key = `${convKey}\n${owner}\n${block}`
  let p = pending.get(key)
  if (p === undefined) {
    const stored = load(convKey, owner, block)
    p = { convKey, owner, block, bloom: stored?.bloom ?? Buffer.alloc(BLOOM_BYTES), stored: stored?.entries ?? '[]', added: [] }
    pending.set(key, p)
  }
  return p
}

/** Folds a message into its pending block (elemMask: its element mask). */
export function addEntry (p: PendingBlock, m: Omit<Indexed, 'elemMask'>, elemMask: number): void {
  const texts = searchTexts(m.content)
  addToBloom(p.bloom, texts)
  p.added.push(entryJson({ id: m.id, serverTime: m.serverTime, seq: m.seq, sender: m.sender, elemMask, texts }))
}

/** Folds a message into the blocks pending in a write (its block made from `load` when it has none yet); n: its seq, or a saved one's count. */
export function addPending (pending: Map<string, PendingBlock>, m: Indexed, owner: string, n: number,
  load: (convKey: string, owner: string, block: number) => { bloom: Buffer, entries: string } | undefined): void {
  addEntry(pendingBlock(pending, m.convKey, owner, blockOf(n), load), m, m.elemMask)
}
