import type pg from 'pg'
import type { SearchEntry, SearchStore } from '../store.js'
import { addEntry, bloomOf, blockOf, entriesJson, parseEntries, pendingBlock, pendingEntries, type Indexed, type PendingBlock } from '../search-index.js'
import { run, statement, type Queryable } from './pool.js'

/**
 * The search index on PostgreSQL (db/search-index.ts). Writers merge into a block with
 * `|` and text concatenation under ON CONFLICT, so two writes to one block never lose
 * each other's entries; a shared message's block comes from its seq, which the
 * conversation's row lock hands out, and a saved one's from its owner's count there.
 */

/** A filter as PostgreSQL takes it: bit(4096) from hex. */
export const bloomHex = (bloom: Buffer): string => bloom.toString('hex')
const fromHex = (hex: string) => `('x' || ${hex})::bit(4096)`

/** A block's new entries and filter merged into what it holds (one row per block per statement). */
export const SEARCH_MERGE = `ON CONFLICT (conv_key, owner, block) DO UPDATE SET bloom = b.bloom | excluded.bloom,
  entries = left(b.entries, -1) || ',' || substr(excluded.entries, 2)`

/** Blocks merged into the index (mergeParams at `$n`…`$n+4`). */
export const MERGE_BLOCKS = (n: number) => `INSERT INTO search_blocks AS b (conv_key, owner, block, bloom, entries)
    SELECT k, o, n, ${fromHex('h')}, e
    FROM unnest($${n}::text[], $${n + 1}::text[], $${n + 2}::bigint[], string_to_array($${n + 3}::text, ','), string_to_array($${n + 4}::text, chr(1))) AS v(k, o, n, h, e)
    ${SEARCH_MERGE}`

/**
 * The insert_one statement's part (db/postgres/messages.ts): its message `m` (id, seq,
 * server_time) into its block, saved ones counted first. $3 sender, $4 owner, $10 elem
 * mask, $24 the filter of its texts (hex), $25 its texts (JSON).
 */
export const INSERT_ONE_CTES = `sv AS (
      INSERT INTO search_saved AS s (owner, conv_key, n) SELECT $4::text, $1::text, 1 FROM m WHERE $4::text IS NOT NULL
      ON CONFLICT (owner, conv_key) DO UPDATE SET n = s.n + 1 RETURNING n),
    sb AS (
      INSERT INTO search_blocks AS b (conv_key, owner, block, bloom, entries)
      SELECT $1::text, coalesce($4::text, ''), CASE WHEN $4::text IS NULL THEN (m.seq - 1) / 16 ELSE ((SELECT n FROM sv) - 1) / 16 END,
        ${fromHex('$24::text')}, '[' || json_build_array(m.id, m.server_time, m.seq, $3::text, $10::integer, $25::json)::text || ']'
      FROM m
      ${SEARCH_MERGE})`

const sql = {
  countSaved: statement('search_count_saved', `INSERT INTO search_saved AS s (owner, conv_key, n)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
    ON CONFLICT (owner, conv_key) DO UPDATE SET n = s.n + excluded.n RETURNING owner, conv_key, n`),
  merge: statement('search_merge', MERGE_BLOCKS(1)),
  messageOf: statement('search_message_of', 'SELECT owner, seq FROM messages WHERE conv_key = $1 AND id = $2'),
  blockFor: statement('search_block_for', 'SELECT block, entries FROM search_blocks WHERE conv_key = $1 AND owner = $2 AND block = $3 FOR UPDATE'),
  blocksFor: statement('search_blocks_for', 'SELECT block, entries FROM search_blocks WHERE conv_key = $1 AND owner = $2 ORDER BY block FOR UPDATE'),
  rewrite: statement('search_rewrite', `UPDATE search_blocks SET bloom = ${fromHex('$4::text')}, entries = $5 WHERE conv_key = $1 AND owner = $2 AND block = $3`),
  drop: statement('search_drop', 'DELETE FROM search_blocks WHERE conv_key = $1 AND owner = $2 AND block = $3'),
  history: statement('search_history', `SELECT conv_key AS "convKey", id, seq, server_time AS "serverTime", sender, elem_mask AS "elemMask", owner, content
    FROM messages WHERE (conv_key, id) > ($1::text, $2::bigint) AND status <> 6 ORDER BY conv_key, id LIMIT 5000`),
  /** What the viewer sees now: its C2C threads and groups (shared blocks), its saved messages; $2 the keyword filters (hex). */
  everywhere: statement('search_everywhere', `WITH scopes (conv_key, owner) AS (
      SELECT conv_key, ''::text COLLATE "C" FROM conversations WHERE user_a = $1
      UNION SELECT conv_key, '' FROM conversations WHERE user_b = $1
      UNION SELECT conv_key, '' FROM group_members WHERE user_id = $1
      UNION SELECT conv_key, owner FROM search_saved WHERE owner = $1),
    masks AS (SELECT ${fromHex('h')} AS m FROM unnest($2::text[]) AS h)
    SELECT b.conv_key, b.entries FROM scopes s JOIN search_blocks b ON b.conv_key = s.conv_key AND b.owner = s.owner
    WHERE $2::text[] IS NULL OR EXISTS (SELECT 1 FROM masks WHERE b.bloom & masks.m = masks.m)`),
  within: statement('search_within', `WITH masks AS (SELECT ${fromHex('h')} AS m FROM unnest($2::text[]) AS h)
    SELECT b.conv_key, b.entries FROM search_blocks b
    WHERE b.conv_key = $3 AND b.owner IN ('', $1)
      AND ($2::text[] IS NULL OR EXISTS (SELECT 1 FROM masks WHERE b.bloom & masks.m = masks.m))`),
  /** Of these (conversation, id), those the viewer deleted. */
  hidden: statement('search_hidden', `SELECT k.conv_key, k.id FROM unnest($2::text[], $3::bigint[]) AS k(conv_key, id)
    WHERE k.id <= coalesce((SELECT c.up_to_id FROM clears c WHERE c.conv_key = k.conv_key AND c.user_id = $1), 0)
      OR EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = k.conv_key AND d.user_id = $1 AND d.message_id = k.id)`),
} as const

/** A stored message as the index takes it: Indexed without its element mask (given beside), with its owner (saved ones). */
export type ToIndex = Omit<Indexed, 'elemMask'> & { owner: string | null }

/**
 * The blocks stored messages go into, with what each adds (elemMasks: per message), on
 * `db` inside the inserting transaction: saved messages are counted there first.
 */
export async function pendingBlocks (db: Queryable, messages: readonly ToIndex[], elemMasks: readonly number[]): Promise<PendingBlock[]> {
  // A saved message's block is its owner's count of saved messages in the conversation.
  const saved = new Map<string, { owner: string, convKey: string, count: number, last: number }>()
  for (const m of messages) {
    if (m.owner === null) continue
    const key = `${m.owner}\n${m.convKey}`
    const s = saved.get(key)
    if (s === undefined) saved.set(key, { owner: m.owner, convKey: m.convKey, count: 1, last: 0 })
    else s.count++
  }
  if (saved.size > 0) {
    const counts = [...saved.values()]
    const { rows } = await run<{ owner: string, conv_key: string, n: number }>(db, sql.countSaved, [counts.map(s => s.owner), counts.map(s => s.convKey), counts.map(s => s.count)])
    for (const r of rows) {
      const s = saved.get(`${r.owner}\n${r.conv_key}`)!
      s.last = r.n - s.count
    }
  }
  const pending = new Map<string, PendingBlock>()
  // Messages come in runs of one block (an import's 1000 fill 63): the last one's is tried first.
  let last: PendingBlock | undefined
  messages.forEach((m, i) => {
    const owner = m.owner ?? ''
    const s = m.owner === null ? undefined : saved.get(`${owner}\n${m.convKey}`)!
    const block = blockOf(s === undefined ? m.seq : ++s.last)
    if (last === undefined || last.block !== block || last.convKey !== m.convKey || last.owner !== owner) last = pendingBlock(pending, m.convKey, owner, block, () => undefined)
    addEntry(last, m, elemMasks[i]!)
  })
  return [...pending.values()]
}

/**
 * Merging blocks into the index, as a statement's parameters: conversations, owners and
 * block numbers as arrays; the filters (hex) joined by commas and the entries joined by
 * U+0001, which JSON text never holds raw. As text arrays, every entry went through the
 * driver's array escaping (its quotes escaped, in two copies of it: 0.4 MB of garbage per
 * import of 1000). MERGE_BLOCKS takes them as `$n`…`$n+4`.
 */
export const mergeParams = (blocks: readonly PendingBlock[]): unknown[] => [blocks.map(b => b.convKey), blocks.map(b => b.owner), blocks.map(b => b.block),
  blocks.map(b => bloomHex(b.bloom)).join(','), blocks.map(pendingEntries).join('\u0001')]
/** Adds stored messages (saved ones with their owner) to their blocks, on `db` inside the inserting transaction. */
export async function indexWith (db: Queryable, messages: ReadonlyArray<Indexed & { owner: string | null }>): Promise<void> {
  if (messages.length === 0) return
  await run(db, sql.merge, mergeParams(await pendingBlocks(db, messages, messages.map(m => m.elemMask))))
}

/** Takes a message out of its block (the filter made again from what is left), on a transaction's client. */
export async function unindexWith (client: Queryable, convKey: string, id: number): Promise<void> {
  const { rows: [m] } = await run<{ owner: string | null, seq: number }>(client, sql.messageOf, [convKey, id])
  if (m === undefined) return
  const owner = m.owner ?? ''
  const { rows } = m.owner === null
    ? await run<{ block: number, entries: string }>(client, sql.blockFor, [convKey, owner, blockOf(m.seq)])
    : await run<{ block: number, entries: string }>(client, sql.blocksFor, [convKey, owner])
  for (const { block, entries } of rows) {
    const all = parseEntries(convKey, entries)
    const left = all.filter(e => e.id !== id)
    if (left.length === all.length) continue
    if (left.length === 0) await run(client, sql.drop, [convKey, owner, block])
    else await run(client, sql.rewrite, [convKey, owner, block, bloomHex(bloomOf(left)), entriesJson(left)])
  }
}

/** Indexes every message not revoked (migration 012), on the migration's client. */
export async function backfill (client: pg.ClientBase): Promise<void> {
  let after: [string, number] = ['', 0]
  for (;;) {
    const { rows } = await run<Indexed & { owner: string | null, content: string }>(client, sql.history, after)
    if (rows.length === 0) return
    await indexWith(client, rows.map(r => ({ ...r, content: JSON.parse(r.content) as Indexed['content'] })))
    const last = rows.at(-1)!
    after = [last.convKey, last.id]
  }
}

export function pgSearch (pool: pg.Pool): SearchStore {
  return {
    async search (q, match) {
      const masks = q.blooms === undefined ? null : q.blooms.map(bloomHex)
      const { rows } = q.convKey === undefined
        ? await run<{ conv_key: string, entries: string }>(pool, sql.everywhere, [q.viewer, masks])
        : await run<{ conv_key: string, entries: string }>(pool, sql.within, [q.viewer, masks, q.convKey])
      const matched: SearchEntry[] = []
      for (const row of rows) for (const e of parseEntries(row.conv_key, row.entries)) if (match(e)) matched.push(e)
      if (matched.length === 0) return []
      const { rows: hidden } = await run<{ conv_key: string, id: number }>(pool, sql.hidden, [q.viewer, matched.map(e => e.convKey), matched.map(e => e.id)])
      if (hidden.length === 0) return matched
      const gone = new Set(hidden.map(h => `${h.conv_key}\n${h.id}`))
      return matched.filter(e => !gone.has(`${e.convKey}\n${e.id}`))
    },
  }
}
