import type { Database } from 'better-sqlite3'
import type { SearchEntry, SearchStore } from '../store.js'
import { addPending, bloomHas, bloomOf, blockOf, entriesJson, parseEntries, pendingEntries, type Indexed, type PendingBlock } from '../search-index.js'

/** The search index on one SQLite connection (db/search-index.ts): written inside the running write. */
export interface SqliteSearch {
  store: SearchStore
  /** Adds a stored message (a saved one has its owner) to the running write's blocks. */
  add (m: Indexed, owner: string | null): void
  /** Takes a message out of its block, filter rebuilt, in the running write. */
  remove (convKey: string, id: number): void
  /** Runs a write, writing the blocks it touched before it returns. */
  within<T> (run: () => T): T
  /** Indexes every message not revoked (migration 012), inside the migration's transaction. */
  backfill (): void
}

interface BlockRow { bloom: Buffer, entries: string }

export function sqliteSearch (db: Database): SqliteSearch {
  // The filter test runs inside the query, so that only the entries of the blocks it
  // keeps are read; the keyword filters of the running search are set around it.
  let keywordBlooms: Buffer[] | undefined
  db.function('timgate_search_block', { deterministic: false }, (bloom: unknown) =>
    keywordBlooms === undefined || keywordBlooms.some(k => bloomHas(bloom as Buffer, k)) ? 1 : 0)

  const getBlock = db.prepare<[string, string, number], BlockRow>('SELECT bloom, entries FROM search_blocks WHERE conv_key = ? AND owner = ? AND block = ?')
  const putBlock = db.prepare<[string, string, number, Buffer, string]>(
    `INSERT INTO search_blocks (conv_key, owner, block, bloom, entries) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (conv_key, owner, block) DO UPDATE SET bloom = excluded.bloom, entries = excluded.entries`)
  const dropBlock = db.prepare<[string, string, number]>('DELETE FROM search_blocks WHERE conv_key = ? AND owner = ? AND block = ?')
  const countSaved = db.prepare<[string, string], { n: number }>(
    'INSERT INTO search_saved (owner, conv_key, n) VALUES (?, ?, 1) ON CONFLICT (owner, conv_key) DO UPDATE SET n = n + 1 RETURNING n')
  const messageOf = db.prepare<[number, string], { owner: string | null, seq: number }>('SELECT owner, seq FROM messages WHERE id = ? AND conv_key = ?')
  const blocksOf = db.prepare<[string, string], { block: number, entries: string }>('SELECT block, entries FROM search_blocks WHERE conv_key = ? AND owner = ?')
  const blocks = `SELECT b.conv_key, b.entries FROM scopes s CROSS JOIN search_blocks b ON b.conv_key = s.conv_key AND b.owner = s.owner
    WHERE timgate_search_block(b.bloom)`
  // What the viewer sees now: its C2C threads and groups (shared blocks), its saved messages.
  const everywhere = db.prepare<{ viewer: string }, { conv_key: string, entries: string }>(
    `WITH scopes (conv_key, owner) AS (
       SELECT conv_key, '' FROM conversations WHERE user_a = @viewer
       UNION SELECT conv_key, '' FROM conversations WHERE user_b = @viewer
       UNION SELECT conv_key, '' FROM group_members WHERE user_id = @viewer
       UNION SELECT conv_key, owner FROM search_saved WHERE owner = @viewer)
     ${blocks}`)
  const within1 = db.prepare<{ viewer: string, convKey: string }, { conv_key: string, entries: string }>(
    `WITH scopes (conv_key, owner) AS (VALUES (@convKey, ''), (@convKey, @viewer)) ${blocks}`)
  const clearedTo = db.prepare<[string, string], { up_to_id: number }>('SELECT up_to_id FROM clears WHERE conv_key = ? AND user_id = ?')
  const deletedIn = db.prepare<[string, string], { message_id: number }>('SELECT message_id FROM deletions WHERE conv_key = ? AND user_id = ?')
  const history = db.prepare<[number], Indexed & { owner: string | null, content: string }>(
    `SELECT id, conv_key AS convKey, seq, server_time AS serverTime, sender, elem_mask AS elemMask, owner, content
     FROM messages WHERE id > ? AND status <> 6 ORDER BY id LIMIT 5000`)

  const pending = new Map<string, PendingBlock>()
  const load = (convKey: string, owner: string, block: number) => getBlock.get(convKey, owner, block)
  const flush = () => {
    for (const p of pending.values()) putBlock.run(p.convKey, p.owner, p.block, p.bloom, pendingEntries(p))
    pending.clear()
  }
  const add = (m: Indexed, owner: string | null) => {
    addPending(pending, m, owner ?? '', owner === null ? m.seq : countSaved.get(owner, m.convKey)!.n, load)
  }

  return {
    add,
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
      const result = run()
      flush()
      return result
    },
    backfill () {
      pending.clear()
      for (let after = 0, rows = history.all(after); rows.length > 0; rows = history.all(after)) {
        for (const row of rows) add({ ...row, content: JSON.parse(row.content) as Indexed['content'] }, row.owner)
        after = rows.at(-1)!.id
        flush()
      }
    },
    store: {
      async search (q, match) {
        keywordBlooms = q.blooms
        let rows
        try {
          rows = q.convKey === undefined ? everywhere.all({ viewer: q.viewer }) : within1.all({ viewer: q.viewer, convKey: q.convKey })
        } finally {
          keywordBlooms = undefined
        }
        const byConv = new Map<string, SearchEntry[]>()
        for (const row of rows) {
          for (const e of parseEntries(row.conv_key, row.entries)) {
            if (!match(e)) continue
            const list = byConv.get(e.convKey)
            if (list === undefined) byConv.set(e.convKey, [e])
            else list.push(e)
          }
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
