import type { Database } from 'better-sqlite3'
import type { SearchEntry, SearchStore } from '../store.js'
import { addEntry, addPending, BLOCK_SIZE, bloomHas, bloomOf, blockOf, entriesJson, fold, parseEntries, pendingBlock, pendingEntries, searchTexts, type Indexed, type PendingBlock } from '../search-index.js'

/**
 * The search index on one SQLite connection (db/search-index.ts): written inside the running
 * write. A conversation's unfinished block of shared messages is not a search_blocks row
 * here but the ids of its messages on the conversation's own row (migration 014), which
 * every message rewrites anyway for its seq: the block is written to search_blocks, filter
 * and entries, with its 16th message. A search reads those messages by id, keeping the ones
 * whose stored text holds a keyword. Saved messages (rare) keep a row per block from the
 * first message on.
 */
export interface SqliteSearch {
  store: SearchStore
  /** Adds a stored message (a saved one has its owner) to the running write's blocks. */
  add (m: Indexed, owner: string | null): void
  /** Takes a message out of its block, filter rebuilt, in the running write. */
  remove (convKey: string, id: number): void
  /** Runs a write, writing the blocks it touched before it returns. */
  within<T> (run: () => T): T
}

interface BlockRow { bloom: Buffer, entries: string }

/** A conversation's unfinished block in the running write: its number, the ids stored before the write, the messages it adds. */
interface Tail { convKey: string, block: number, stored: number[], added: Indexed[] }

type MessageRow = Indexed & { content: string }
const MESSAGE_COLUMNS = 'm.id, m.conv_key AS convKey, m.seq, m.server_time AS serverTime, m.sender, m.elem_mask AS elemMask, m.content'

/** A message row as the index takes it: its content parsed. */
const toIndexed = <R extends MessageRow>(row: R): Omit<R, 'content'> & Indexed => ({ ...row, content: JSON.parse(row.content) as Indexed['content'] })

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Lower case with final sigma as sigma: the one case mapping that depends on its context
 * (Σ is ς after a cased letter), which JSON's escapes change (`\nΣ` is a letter then Σ in
 * the stored text, a newline then Σ in the message's own).
 */
const sigmaFold = (s: string): string => fold(s).replaceAll('ς', 'σ')

/**
 * A keyword as it appears in a content's JSON text: a message whose text holds `k` has a
 * stored content whose sigmaFold holds this (JSON escapes character by character, and
 * sigmaFold commutes with that). Undefined for a keyword with a lone surrogate, which JSON
 * escapes in a form of its own.
 */
const storedForm = (k: string): string | undefined => LONE_SURROGATE.test(k) ? undefined : sigmaFold(JSON.stringify(k).slice(1, -1))

/** The rows of search_blocks a write adds to (as in 012, before the unfinished blocks moved), and how it writes them. */
function blockWriter (db: Database) {
  const getBlock = db.prepare<[string, string, number], BlockRow>('SELECT bloom, entries FROM search_blocks WHERE conv_key = ? AND owner = ? AND block = ?')
  const putBlock = db.prepare<[string, string, number, Buffer, string]>(
    `INSERT INTO search_blocks (conv_key, owner, block, bloom, entries) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (conv_key, owner, block) DO UPDATE SET bloom = excluded.bloom, entries = excluded.entries`)
  const countSaved = db.prepare<[string, string], { n: number }>(
    'INSERT INTO search_saved (owner, conv_key, n) VALUES (?, ?, 1) ON CONFLICT (owner, conv_key) DO UPDATE SET n = n + 1 RETURNING n')
  const pending = new Map<string, PendingBlock>()
  const load = (convKey: string, owner: string, block: number) => getBlock.get(convKey, owner, block)
  return {
    pending,
    load,
    getBlock,
    putBlock,
    /** A message into its block (a saved one counted first): n is its seq, or its owner's count there. */
    toBlock (m: Indexed, owner: string | null) {
      addPending(pending, m, owner ?? '', owner === null ? m.seq : countSaved.get(owner, m.convKey)!.n, load)
    },
    /** Writes the blocks the write added to (none left empty). */
    flushBlocks () {
      for (const p of pending.values()) if (p.added.length > 0 || p.stored !== '[]') putBlock.run(p.convKey, p.owner, p.block, p.bloom, pendingEntries(p))
      pending.clear()
    },
  }
}

/** Indexes every message not revoked (migration 012), inside the migration's transaction: every block into search_blocks, which 014 then moves the unfinished ones out of. */
export function backfillSearch (db: Database): void {
  const { toBlock, flushBlocks } = blockWriter(db)
  const history = db.prepare<[number], MessageRow & { owner: string | null }>(
    `SELECT id, conv_key AS convKey, seq, server_time AS serverTime, sender, elem_mask AS elemMask, owner, content
     FROM messages WHERE id > ? AND status <> 6 ORDER BY id LIMIT 5000`)
  for (let after = 0, rows = history.all(after); rows.length > 0; rows = history.all(after)) {
    for (const row of rows) toBlock(toIndexed(row), row.owner)
    after = rows.at(-1)!.id
    flushBlocks()
  }
}

export function sqliteSearch (db: Database): SqliteSearch {
  // The filter test runs inside the query, so that only the entries of the blocks it
  // keeps are read; the keyword filters of the running search are set around it.
  let keywordBlooms: Buffer[] | undefined
  db.function('timgate_search_block', { deterministic: false }, (bloom: unknown) =>
    keywordBlooms === undefined || keywordBlooms.some(k => bloomHas(bloom as Buffer, k)) ? 1 : 0)
  // The same for a message of an unfinished block: its stored text holds a keyword.
  let keywordTexts: string[] | undefined
  db.function('timgate_search_text', { deterministic: false }, (content: unknown) => {
    if (keywordTexts === undefined) return 1
    const text = sigmaFold(content as string)
    return keywordTexts.some(k => text.includes(k)) ? 1 : 0
  })

  const dropBlock = db.prepare<[string, string, number]>('DELETE FROM search_blocks WHERE conv_key = ? AND owner = ? AND block = ?')
  const messageOf = db.prepare<[number, string], { owner: string | null, seq: number }>('SELECT owner, seq FROM messages WHERE id = ? AND conv_key = ?')
  const blocksOf = db.prepare<[string, string], { block: number, entries: string }>('SELECT block, entries FROM search_blocks WHERE conv_key = ? AND owner = ?')
  const blocks = `SELECT b.conv_key, b.entries FROM scopes s CROSS JOIN search_blocks b ON b.conv_key = s.conv_key AND b.owner = s.owner
    WHERE timgate_search_block(b.bloom)`
  // What the viewer sees now: its C2C threads and groups (shared blocks), its saved messages.
  const everywhereScopes = `WITH scopes (conv_key, owner) AS (
       SELECT conv_key, '' FROM conversations WHERE user_a = @viewer
       UNION SELECT conv_key, '' FROM conversations WHERE user_b = @viewer
       UNION SELECT conv_key, '' FROM group_members WHERE user_id = @viewer
       UNION SELECT conv_key, owner FROM search_saved WHERE owner = @viewer)`
  const oneScopes = `WITH scopes (conv_key, owner) AS (VALUES (@convKey, ''), (@convKey, @viewer))`
  const everywhere = db.prepare<{ viewer: string }, { conv_key: string, entries: string }>(`${everywhereScopes} ${blocks}`)
  const within1 = db.prepare<{ viewer: string, convKey: string }, { conv_key: string, entries: string }>(`${oneScopes} ${blocks}`)
  // The messages of the unfinished blocks (shared messages) in the same scopes.
  const tail = `SELECT ${MESSAGE_COLUMNS} FROM scopes s JOIN conversations c ON c.conv_key = s.conv_key AND s.owner = ''
    JOIN json_each(c.search_tail) j JOIN messages m ON m.id = j.value
    WHERE c.search_tail IS NOT NULL AND m.status <> 6 AND timgate_search_text(m.content)`
  const tailsEverywhere = db.prepare<{ viewer: string }, MessageRow>(`${everywhereScopes} ${tail}`)
  const tailWithin1 = db.prepare<{ viewer: string, convKey: string }, MessageRow>(`${oneScopes} ${tail}`)
  const getTail = db.prepare<[string], { search_tail: string | null, search_tail_block: number | null }>(
    'SELECT search_tail, search_tail_block FROM conversations WHERE conv_key = ?')
  const setTail = db.prepare<[string | null, number | null, string]>('UPDATE conversations SET search_tail = ?, search_tail_block = ? WHERE conv_key = ?')
  const tailMessages = db.prepare<[string], MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id IN (SELECT value FROM json_each(?)) AND m.status <> 6 ORDER BY m.id`)
  const clearedTo = db.prepare<[string, string], { up_to_id: number }>('SELECT up_to_id FROM clears WHERE conv_key = ? AND user_id = ?')
  const deletedIn = db.prepare<[string, string], { message_id: number }>('SELECT message_id FROM deletions WHERE conv_key = ? AND user_id = ?')

  const tails = new Map<string, Tail>()
  const { pending, load, getBlock, putBlock, toBlock, flushBlocks } = blockWriter(db)
  const flush = () => {
    flushBlocks()
    for (const t of tails.values()) {
      const ids = [...t.stored, ...t.added.map(m => m.id)]
      if (ids.length === 0) setTail.run(null, null, t.convKey)
      else setTail.run(JSON.stringify(ids), t.block, t.convKey)
    }
    tails.clear()
  }
  /** A tail's messages, those stored before the write and those it added, into their block in search_blocks; the tail is then empty. */
  const close = (t: Tail) => {
    const p = pendingBlock(pending, t.convKey, '', t.block, load)
    if (t.stored.length > 0) for (const row of tailMessages.all(JSON.stringify(t.stored))) addEntry(p, toIndexed(row), row.elemMask)
    for (const m of t.added) addEntry(p, m, m.elemMask)
    t.stored = []
    t.added = []
  }
  /** A shared message into its conversation's unfinished block, the block closed with its 16th message. */
  const toTail = (m: Indexed) => {
    const block = blockOf(m.seq)
    let t = tails.get(m.convKey)
    if (t === undefined) {
      const row = getTail.get(m.convKey)
      t = { convKey: m.convKey, block: row?.search_tail_block ?? block, stored: row?.search_tail === null || row === undefined ? [] : JSON.parse(row.search_tail) as number[], added: [] }
      tails.set(m.convKey, t)
    }
    // Seqs come without gaps (an import that met its twin gives its seq back to the next
    // message), so the tail is the block of the next seq; should a row say otherwise, its
    // block is written as it is rather than merged into the next one.
    if (t.block !== block) {
      close(t)
      t.block = block
    }
    t.added.push(m)
    if (m.seq === (block + 1) * BLOCK_SIZE) close(t)
  }

  return {
    add (m, owner) {
      if (owner === null) toTail(m)
      else toBlock(m, owner)
    },
    remove (convKey, id) {
      const m = messageOf.get(id, convKey)
      if (m === undefined) return
      const owner = m.owner ?? ''
      const candidates = m.owner === null ? [{ block: blockOf(m.seq), entries: getBlock.get(convKey, owner, blockOf(m.seq))?.entries }] : blocksOf.all(convKey, owner)
      for (const { block, entries } of candidates) {
        if (entries === undefined) continue
        const all = parseEntries(convKey, entries)
        const left = all.filter(e => e.id !== id)
        if (left.length === all.length) continue
        // The filter is made again from what is left: the revoked text's grams leave it.
        if (left.length === 0) dropBlock.run(convKey, owner, block)
        else putBlock.run(convKey, owner, block, bloomOf(left), entriesJson(left))
      }
    },
    within (run) {
      pending.clear()
      tails.clear()
      const result = run()
      flush()
      return result
    },
    store: {
      async search (q, match) {
        keywordBlooms = q.blooms
        const texts = q.keywords?.map(storedForm)
        keywordTexts = texts === undefined || texts.includes(undefined) ? undefined : texts as string[]
        let rows, tailRows
        try {
          rows = q.convKey === undefined ? everywhere.all({ viewer: q.viewer }) : within1.all({ viewer: q.viewer, convKey: q.convKey })
          tailRows = q.convKey === undefined ? tailsEverywhere.all({ viewer: q.viewer }) : tailWithin1.all({ viewer: q.viewer, convKey: q.convKey })
        } finally {
          keywordBlooms = undefined
          keywordTexts = undefined
        }
        const byConv = new Map<string, SearchEntry[]>()
        const keep = (e: SearchEntry) => {
          if (!match(e)) return
          const list = byConv.get(e.convKey)
          if (list === undefined) byConv.set(e.convKey, [e])
          else list.push(e)
        }
        for (const row of rows) for (const e of parseEntries(row.conv_key, row.entries)) keep(e)
        for (const row of tailRows) {
          const { id, convKey, seq, serverTime, sender, elemMask } = row
          keep({ id, convKey, seq, serverTime, sender, elemMask, texts: searchTexts(JSON.parse(row.content) as Indexed['content']) })
        }
        // What the viewer deleted, of the conversations that have a match.
        const out: SearchEntry[] = []
        for (const [convKey, list] of byConv) {
          const upTo = clearedTo.get(convKey, q.viewer)?.up_to_id ?? 0
          const deleted = new Set(deletedIn.all(convKey, q.viewer).map(d => d.message_id))
          for (const e of list) if (e.id > upTo && !deleted.has(e.id)) out.push(e)
        }
        return out
      },
    },
  }
}
