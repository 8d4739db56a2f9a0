import { finished } from 'node:stream/promises'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { EventType, historyBounds, Origin, type HistoryPosition, type MessageStore, type NewMessage, type StoredMessage, type Written } from '../store.js'
import { contentJson, rowToMessage as toMessage, type MessageRow as Row } from '../rows.js'
import { retrying, run, statement, transaction, translated, type Queryable } from './pool.js'
import { groupCommit, type GroupWritten } from './group-commit.js'
import type { PgEventAppender } from './events.js'
import { bloomHex, INSERT_ONE_CTES, MERGE_BLOCKS, mergeParams, pendingBlocks, SEARCH_MERGE, unindexWith } from './search.js'
import { addToBloom, BLOOM_BYTES, searchTexts } from '../search-index.js'

/**
 * The message store on a pool. Parameters in a SELECT list are cast, as PostgreSQL cannot
 * infer their types there.
 */

/** The columns of a message row as `viewer` (a parameter) sees it: deleted by a clear or one by one. */
const columns = (viewer: string) => `m.id, m.conv_key, m.seq, m.sender, m.owner, m.server_time, m.client_time, m.rand,
  m.status, m.origin, m.revoker, m.content,
  (m.id <= coalesce((SELECT c.up_to_id FROM clears c WHERE c.conv_key = m.conv_key AND c.user_id = ${viewer}), 0)
   OR EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = m.conv_key AND d.user_id = ${viewer} AND d.message_id = m.id)) AS deleted`
/** The columns of a history page: its range already leaves out what the viewer deleted. */
const pageColumns = `m.id, m.conv_key, m.seq, m.sender, m.owner, m.server_time, m.client_time, m.rand,
  m.status, m.origin, m.revoker, m.content, false AS deleted`
/** Saved messages are their owner's alone. */
const visible = (viewer: string) => `(m.owner IS NULL OR m.owner = ${viewer})`

/**
 * A page of history: both ends are row values over the history index, so a page is one
 * index range whatever the conversation's size (the time filter folds into them). The
 * conversation and the limit come through (SELECT $n): the planner then costs every plan
 * alike and keeps one, where with the values in sight it found each page's plan cheaper
 * than the kept one and planned every page anew (150 µs of planning for 30 µs of reading;
 * the plan was the same each time).
 */
const range = `m.conv_key = (SELECT $1::text) AND (m.server_time, m.seq, m.id) > ($3::bigint, $4::bigint, $5::bigint)
  AND (m.server_time, m.seq, m.id) < ($6::bigint, $7::bigint, $8::bigint)
  AND ${visible('$2')} AND ($9::integer = 0 OR (m.elem_mask & $9::integer) <> 0)
  AND m.id > coalesce((SELECT c.up_to_id FROM clears c WHERE c.conv_key = $1 AND c.user_id = $2), 0)
  AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = $1 AND d.user_id = $2 AND d.message_id = m.id)`

/** What a C2C message does to its users' rows: listed again, their activity, the sender's count. */
const C2C_CONFLICT = `ON CONFLICT (user_id, conv_key) DO UPDATE SET listed = true,
  active_time = greatest(u.active_time, excluded.active_time), sent = u.sent + excluded.sent`

/** A change a stored message makes to one user's row of the conversation list. */
interface RowChange { key: string, user: string, peer: string | null, group: boolean, time: number, sent: number, unhide: boolean }

/**
 * The rows a message changes: a shared C2C message both users' (listed again, their
 * activity, the sender's count), a shared group message its sender's count alone (never
 * every member's), a saved message its owner's.
 */
function rowChanges (m: NewMessage, time: number): RowChange[] {
  const key = m.conv.key
  const users = m.conv.users
  const countable = m.owner === null && m.origin === Origin.Sent
  if (m.owner !== null) {
    const peer = users === undefined ? null : users[0] === m.owner ? users[1] : users[0]
    return [{ key, user: m.owner, peer, group: users === undefined, time, sent: 0, unhide: true }]
  }
  if (users === undefined) return countable ? [{ key, user: m.sender, peer: null, group: true, time: 0, sent: 1, unhide: false }] : []
  const [a, b] = users
  const row = (user: string, peer: string): RowChange => ({ key, user, peer, group: false, time, sent: countable && m.sender === user ? 1 : 0, unhide: false })
  return a === b ? [row(a, b)] : [row(a, b), row(b, a)]
}

/** The read points of (conversation $n, user $n+1) pairs, i 1-based. */
const READ_POINTS_OF = (n: number) => `SELECT x.i, r.server_time, r.seq, r.id FROM unnest($${n}::text[], $${n + 1}::text[]) WITH ORDINALITY AS x(k, u, i)
    CROSS JOIN LATERAL (SELECT rp.server_time, rp.seq, rp.id FROM read_points rp WHERE rp.conv_key = x.k AND rp.user_id = x.u) r`

const sql = {
  /**
   * One message, one statement: the conversation's row is upserted (+1 for a shared
   * message, +0 for a saved one, which still takes the lock) and holds its lock until the
   * statement commits, so concurrent senders on any replica line up behind it.
   */
  insertOne: statement('insert_one', `WITH c AS (
      INSERT INTO conversations AS c (conv_key, last_seq, last_time, user_a, user_b, tally, active_time)
      VALUES ($1, $2::bigint, CASE WHEN $2::bigint = 1 THEN $5::bigint ELSE 0 END, $13::text, $14::text, $16::bigint,
        CASE WHEN $2::bigint = 1 THEN $5::bigint ELSE 0 END)
      ON CONFLICT (conv_key) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq, last_time = greatest(c.last_time, excluded.last_time),
        tally = c.tally + excluded.tally, active_time = greatest(c.active_time, excluded.active_time)
      RETURNING c.last_seq, c.last_time, c.tally),
    m AS (
      INSERT INTO messages (conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content, tally)
      SELECT $1::text, CASE WHEN $2::bigint = 1 THEN c.last_seq ELSE 0 END, $3::text, $4::text,
        CASE WHEN $2::bigint = 1 THEN c.last_time ELSE $5::bigint END, $6::bigint,
        $7::bigint, $8::integer, $9::integer, $10::integer, $11::text, CASE WHEN $2::bigint = 1 THEN c.tally ELSE 0 END
      FROM c
      RETURNING id, seq, server_time),
    r AS (INSERT INTO message_refs (conv_key, ref, message_id) SELECT $1::text, ref, m.id FROM m, unnest($12::bytea[]) AS ref),
    e AS (INSERT INTO events (type, conv_key, message_id, at) SELECT ${EventType.Message}, $1::text, m.id, m.server_time FROM m WHERE $15::boolean),
    u AS (INSERT INTO user_conversations AS u (user_id, conv_key, is_group, peer, listed, active_time, sent)
      SELECT y.user_id, $1::text, false, y.peer, true, m.server_time, y.n FROM m, unnest($17::text[], $18::text[], $19::bigint[]) AS y(user_id, peer, n)
      ${C2C_CONFLICT}),
    g AS (UPDATE user_conversations AS u SET sent = u.sent + $21::bigint, active_time = greatest(u.active_time, $22::bigint),
        hidden_seq = CASE WHEN $23::boolean THEN NULL ELSE u.hidden_seq END
      FROM m WHERE u.user_id = $20::text AND u.conv_key = $1::text),
    ${INSERT_ONE_CTES}
    SELECT m.id, m.seq, m.server_time, rp.server_time AS read_time, rp.seq AS read_seq, rp.id AS read_id
    FROM m LEFT JOIN read_points rp ON rp.conv_key = $1::text AND rp.user_id = $26::text`),
  /**
   * Shared messages that are not imports, of several writes, in one statement: each
   * conversation's row upserted once, in key order (its lock held until the statement
   * commits), then seqs, times and tallies counted on from what it held, as insert_one does
   * for one message ($1-$14: per message, in order; $15, $16: media refs by message; $17:
   * per message, whose read point to answer with it). A message's time never goes below
   * the last sent one's (prev_time: last_time before this statement).
   */
  insertShared: statement('insert_shared', `WITH x AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::integer[], $7::integer[], $8::integer[],
        $9::text[], $10::text[], $11::text[], $12::boolean[], $13::text[], $14::text[], $17::text[])
        WITH ORDINALITY AS x(k, sender, t, ct, r, st, o, em, content, ua, ub, ev, bloom, texts, reader, i)),
    per AS (SELECT k, min(ua) AS ua, min(ub) AS ub, count(*) AS n, max(t) AS t, count(*) FILTER (WHERE o = ${Origin.Sent}) AS sent FROM x GROUP BY k),
    c AS (
      INSERT INTO conversations AS c (conv_key, last_seq, last_time, user_a, user_b, tally, active_time, prev_time)
      SELECT k, n, t, ua, ub, sent, t, 0 FROM per ORDER BY k COLLATE "C"
      ON CONFLICT (conv_key) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq, prev_time = c.last_time,
        last_time = greatest(c.last_time, excluded.last_time), tally = c.tally + excluded.tally,
        active_time = greatest(c.active_time, excluded.active_time)
      RETURNING c.conv_key, c.last_seq, c.prev_time, c.tally),
    p AS (
      SELECT x.*, c.last_seq - per.n + row_number() OVER w AS seq, greatest(c.prev_time, max(x.t) OVER w) AS time,
        c.tally - per.sent + count(*) FILTER (WHERE x.o = ${Origin.Sent}) OVER w AS tally
      FROM x JOIN per ON per.k = x.k JOIN c ON c.conv_key = x.k
      WINDOW w AS (PARTITION BY x.k ORDER BY x.i)),
    m AS (
      INSERT INTO messages (conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content, tally)
      SELECT k, seq, sender, NULL, time, ct, r, st, o, em, content, tally FROM p ORDER BY k, seq
      RETURNING id, conv_key, seq, server_time),
    q AS (SELECT m.id, m.conv_key, m.seq, m.server_time, p.i, p.sender, p.o, p.em, p.ua, p.ub, p.ev, p.bloom, p.texts, p.reader
      FROM m JOIN p ON p.k = m.conv_key AND p.seq = m.seq),
    rf AS (INSERT INTO message_refs (conv_key, ref, message_id)
      SELECT q.conv_key, f.ref, q.id FROM unnest($15::bigint[], $16::bytea[]) AS f(i, ref) JOIN q ON q.i = f.i ON CONFLICT DO NOTHING),
    e AS (INSERT INTO events (type, conv_key, message_id, at) SELECT ${EventType.Message}, q.conv_key, q.id, q.server_time FROM q WHERE q.ev ORDER BY q.i),
    uc AS (INSERT INTO user_conversations AS u (user_id, conv_key, is_group, peer, listed, active_time, sent)
      SELECT y.user_id, q.conv_key, false, y.peer, true, max(q.server_time), count(DISTINCT q.id) FILTER (WHERE q.sender = y.user_id AND q.o = ${Origin.Sent})
      FROM q CROSS JOIN LATERAL (VALUES (q.ua, q.ub), (q.ub, q.ua)) AS y(user_id, peer)
      WHERE q.ua IS NOT NULL GROUP BY q.conv_key, y.user_id, y.peer ORDER BY q.conv_key, y.user_id
      ${C2C_CONFLICT}),
    g AS (UPDATE user_conversations AS u SET sent = u.sent + s.n
      FROM (SELECT q.conv_key, q.sender, count(*) AS n FROM q WHERE q.ua IS NULL AND q.o = ${Origin.Sent} GROUP BY q.conv_key, q.sender) AS s
      WHERE u.user_id = s.sender AND u.conv_key = s.conv_key),
    sb AS (INSERT INTO search_blocks AS b (conv_key, owner, block, bloom, entries)
      SELECT q.conv_key, '', (q.seq - 1) / 16, bit_or(('x' || q.bloom)::bit(4096)),
        '[' || string_agg(json_build_array(q.id, q.server_time, q.seq, q.sender, q.em, q.texts::json)::text, ',' ORDER BY q.seq) || ']'
      FROM q GROUP BY q.conv_key, (q.seq - 1) / 16 ORDER BY 1, 3
      ${SEARCH_MERGE})
    SELECT q.i, q.id, q.seq, q.server_time, rp.server_time AS read_time, rp.seq AS read_seq, rp.id AS read_id
    FROM q LEFT JOIN read_points rp ON rp.conv_key = q.conv_key AND rp.user_id = q.reader`),
  /** The read points of (conversation $1, user $2) pairs, i 1-based. */
  readPointsOf: statement('read_points_pairs', READ_POINTS_OF(1)),
  /**
   * What a write of several messages changes besides the messages and their refs, in one
   * statement (each part was a round trip of its own, and an import of 1000 held its
   * 10,000 objects across each): the conversations' counters ($1-$5), users' C2C rows
   * ($6-$10, in key and user order), members' group rows ($11-$15), the search blocks
   * ($16-$20, mergeParams); and the read points of (conversation $21, user $22) pairs.
   */
  afterInsert: statement('after_insert', `WITH cs AS (
      UPDATE conversations AS c SET last_seq = v.last_seq, last_time = v.last_time, tally = v.tally, active_time = greatest(c.active_time, v.active_time)
      FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS v(conv_key, last_seq, last_time, tally, active_time)
      WHERE c.conv_key = v.conv_key),
    uc AS (
      INSERT INTO user_conversations AS u (user_id, conv_key, is_group, peer, listed, active_time, sent)
      SELECT x.user_id, x.k, false, x.peer, true, x.t, x.n FROM unnest($6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[]) AS x(k, user_id, peer, t, n)
      ORDER BY x.k, x.user_id
      ${C2C_CONFLICT}),
    ug AS (
      UPDATE user_conversations AS u SET sent = u.sent + x.n, active_time = greatest(u.active_time, x.t),
        hidden_seq = CASE WHEN x.unhide THEN NULL ELSE u.hidden_seq END
      FROM unnest($11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::boolean[]) AS x(k, user_id, t, n, unhide)
      WHERE u.user_id = x.user_id AND u.conv_key = x.k),
    sb AS (${MERGE_BLOCKS(16)})
    ${READ_POINTS_OF(21)}`),
  /** Locks conversations in key order (the one order of every writer: no deadlock), creating missing ones. */
  lockConversations: statement('lock_conversations', `INSERT INTO conversations AS c (conv_key, last_seq, user_a, user_b)
    SELECT k, 0, a, b FROM unnest($1::text[], $2::text[], $3::text[]) AS k(k, a, b) ORDER BY k COLLATE "C"
    ON CONFLICT (conv_key) DO UPDATE SET last_seq = c.last_seq
    RETURNING c.conv_key, c.last_seq, c.last_time, c.tally`),
  /** One conversation's row, locked (when it exists: else it holds no message yet). */
  lockConversation: statement('lock_conversation', 'SELECT 1 FROM conversations WHERE conv_key = $1 FOR UPDATE'),
  /** The stored imports among (conv_key, sender, time, rand) candidates, each as its sender sees it; i is 1-based. */
  findImported: statement('find_imported', `SELECT k.i, ${columns('k.sender')}
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS k(conv_key, sender, t, r, i)
    JOIN messages m ON m.conv_key = k.conv_key AND m.sender = k.sender AND m.server_time = k.t AND m.rand = k.r
      AND m.origin = ${Origin.Imported}`),
  /**
   * $1 new ids, as the runs of consecutive ids they form (one run unless another writer
   * drew ids meanwhile): a row per id cost the gateway a parsed row object each.
   */
  nextId: statement('next_id', 'SELECT nextval(\'message_ids\') AS id'),
  nextIds: statement('next_ids', `SELECT min(id) AS lo, max(id) AS hi FROM (
      SELECT id, id - row_number() OVER (ORDER BY id) AS run FROM (SELECT nextval('message_ids') AS id FROM generate_series(1, $1::integer)) n) r
    GROUP BY run ORDER BY lo`),
  insertMany: statement('insert_many', `INSERT INTO messages
      (id, conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content, tally)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
      $8::bigint[], $9::integer[], $10::integer[], $11::integer[], $12::text[], $13::bigint[])`),
  insertRefs: statement('insert_refs', `INSERT INTO message_refs (conv_key, ref, message_id)
    SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[]) ON CONFLICT DO NOTHING`),

  byId: statement('by_id', `SELECT ${columns('$3')} FROM messages m WHERE m.conv_key = $1 AND m.id = $2 AND ${visible('$3')}`),
  /** One row per locator that matches (i is 1-based); of several matches, the first stored. */
  byLocators: statement('by_locators', `SELECT l.i, x.* FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS l(seq, rand, t, i)
    CROSS JOIN LATERAL (SELECT ${columns('$2')} FROM messages m
      WHERE m.conv_key = $1 AND m.seq = l.seq AND m.rand = l.rand AND m.server_time = l.t AND ${visible('$2')}
      ORDER BY m.id LIMIT 1) x`),
  newest: statement('newest', `SELECT ${columns('$2')} FROM messages m WHERE m.conv_key = $1 AND ${visible('$2')}
    ORDER BY m.server_time DESC, m.seq DESC, m.id DESC LIMIT 1`),
  older: statement('older', `SELECT ${pageColumns} FROM messages m WHERE ${range}
    ORDER BY m.server_time DESC, m.seq DESC, m.id DESC LIMIT (SELECT $10::integer)`),
  newer: statement('newer', `SELECT ${pageColumns} FROM messages m WHERE ${range}
    ORDER BY m.server_time, m.seq, m.id LIMIT (SELECT $10::integer)`),

  /** The content goes, and the media references with it. */
  revoke: statement('revoke', `WITH refs AS (DELETE FROM message_refs WHERE conv_key = $1 AND message_id = $2),
    u AS (UPDATE messages SET status = $3, revoker = $4, elem_mask = $5, content = $6 WHERE conv_key = $1 AND id = $2 RETURNING id)
    INSERT INTO events (type, conv_key, message_id, actor, at) SELECT ${EventType.Revoke}, $1, u.id, $4, $7 FROM u`),
  /**
   * The newest message carrying a media ref that the viewer may see: its own saved one, one
   * of a C2C thread it is one of the users of, or one of a group it is a member of now.
   */
  byRef: statement('by_ref', `SELECT ${columns('$2')} FROM messages m WHERE (m.conv_key, m.id) = (
      SELECT r.conv_key, r.message_id FROM message_refs r JOIN messages x ON x.conv_key = r.conv_key AND x.id = r.message_id
        LEFT JOIN conversations c ON c.conv_key = r.conv_key
      WHERE r.ref = $1 AND (x.owner = $2 OR (x.owner IS NULL AND (
        $2 IN (c.user_a, c.user_b)
        OR (c.user_a IS NULL AND ($3::boolean OR EXISTS (
          SELECT 1 FROM group_members gm WHERE gm.conv_key = r.conv_key AND gm.user_id = $2))))))
      ORDER BY r.message_id DESC LIMIT 1)`),
  /**
   * Read points of one user ($2) moved forward, never back, also when two replicas race
   * ($1 keys, $3-$5 positions, $6 whether a move is a read receipt, $7 now). Each move sets
   * the user's floor (migration 011): the tally of the newest sent or server-made message at
   * or before the point, and how many of the countable messages up to it were the user's
   * own: the user's `sent` as this statement's snapshot saw it, less its own past the floor,
   * both from one snapshot (a concurrent send of its own updates `sent` alone).
   */
  markRead: statement('mark_read', `WITH x AS (SELECT * FROM unnest($1::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::boolean[]) AS x(conv_key, t, s, i, receipt)),
    r AS (
      INSERT INTO read_points AS r (conv_key, user_id, server_time, seq, id) SELECT x.conv_key, $2::text, x.t, x.s, x.i FROM x ORDER BY x.conv_key
      ON CONFLICT (conv_key, user_id) DO UPDATE SET server_time = excluded.server_time, seq = excluded.seq, id = excluded.id
      WHERE (excluded.server_time, excluded.seq, excluded.id) > (r.server_time, r.seq, r.id) RETURNING r.conv_key, r.server_time, r.seq, r.id),
    f AS (SELECT r.*, coalesce((SELECT m.tally FROM messages m WHERE m.conv_key = r.conv_key AND (m.server_time, m.seq, m.id) <= (r.server_time, r.seq, r.id)
        AND m.owner IS NULL AND m.origin IN (${Origin.Sent}, ${Origin.Server}) ORDER BY m.server_time DESC, m.seq DESC, m.id DESC LIMIT 1), 0) AS floor,
      coalesce((SELECT c.last_time FROM conversations c WHERE c.conv_key = r.conv_key), 0) AS last_time FROM r),
    o AS (SELECT f.*, (SELECT count(*) FROM messages m WHERE m.conv_key = f.conv_key AND (m.server_time, m.seq, m.id) > (f.server_time, f.seq, f.id)
        AND m.owner IS NULL AND m.origin = ${Origin.Sent} AND m.sender = $2::text AND m.tally > f.floor) AS own,
      (SELECT uc.sent FROM user_conversations uc WHERE uc.user_id = $2::text AND uc.conv_key = f.conv_key) AS sent FROM f),
    u AS (UPDATE user_conversations AS u SET floor_sent = CASE WHEN o.floor > u.floor THEN o.sent - o.own ELSE u.floor_sent END,
        floor = greatest(u.floor, o.floor),
        ahead_from = CASE WHEN o.server_time > o.last_time THEN o.last_time ELSE 0 END,
        ahead_to = CASE WHEN o.server_time > o.last_time THEN o.server_time ELSE 0 END
      FROM o WHERE u.user_id = $2::text AND u.conv_key = o.conv_key)
    INSERT INTO events (type, conv_key, message_id, actor, at)
    SELECT ${EventType.ReadReceipt}, r.conv_key, r.id, $2::text, $7::bigint FROM r JOIN x ON x.conv_key = r.conv_key WHERE x.receipt ORDER BY r.conv_key`),
  readPoint: statement('read_point', 'SELECT server_time, seq, id FROM read_points WHERE conv_key = $1 AND user_id = $2'),
  readPoints: statement('read_points_of', 'SELECT conv_key, user_id, server_time, seq, id FROM read_points WHERE conv_key = ANY($1::text[])'),
  sharedMany: statement('shared_many', `SELECT ${pageColumns} FROM unnest($1::text[], $2::bigint[]) AS r(conv_key, id)
    JOIN messages m ON m.conv_key = r.conv_key AND m.id = r.id WHERE m.owner IS NULL`),
  deleteFor: statement('delete_for', 'INSERT INTO deletions (conv_key, user_id, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING'),
  /**
   * Under the conversation's lock: everything it holds is deleted for the user, so nothing of
   * it counts any more (the floor goes to the conversation's tally), and the user's one by
   * one deletions it covers say nothing more.
   */
  clearFor: statement('clear_for', `WITH c AS (INSERT INTO clears AS c (conv_key, user_id, up_to_id)
      SELECT $1::text, $2::text, coalesce(max(id), 0) FROM messages WHERE conv_key = $1::text
      ON CONFLICT (conv_key, user_id) DO UPDATE SET up_to_id = greatest(c.up_to_id, excluded.up_to_id) RETURNING c.up_to_id),
    f AS (UPDATE user_conversations SET floor = greatest(floor, coalesce((SELECT tally FROM conversations WHERE conv_key = $1::text), 0)), floor_sent = sent
      WHERE user_id = $2::text AND conv_key = $1::text)
    DELETE FROM deletions WHERE conv_key = $1::text AND user_id = $2::text AND message_id <= (SELECT up_to_id FROM c)`),
} as const

/** Free client text that PostgreSQL text cannot hold (U+0000), as the UTF-8 bytea it is kept as. */
export const bytes = (s: string): Buffer => Buffer.from(s, 'utf8')

/** The search parameters of insert_one ($24, $25): the filter of the message's texts, and the texts. */
function searchParams (m: NewMessage): [string, string] {
  const texts = searchTexts(m.content)
  const bloom = Buffer.alloc(BLOOM_BYTES)
  addToBloom(bloom, texts)
  return [bloomHex(bloom), JSON.stringify(texts)]
}

/** COPY's text format: a value's backslashes, newlines, carriage returns and tabs escaped (JSON text has only backslashes). */
const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' }
const COPY_SPECIAL = /[\\\n\r\t]/
const COPY_SPECIALS = new RegExp(COPY_SPECIAL.source, 'g')
const copyText = (s: string): string => COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIALS, c => COPY_ESCAPES[c]!) : s

const COPY_MESSAGES = 'COPY messages (id, conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content, tally) FROM STDIN'

/**
 * The rows of copyMessages, encoded, in a function of its own: the text (~26 pieces a
 * row) was kept in copyMessages' scope through the COPY's round trip, for the collector
 * to copy at every scavenge meanwhile; only the bytes need to live that long.
 */
function copyRows (news: readonly StoredMessage[], elemMasks: readonly number[], tallies: readonly number[]): Buffer {
  // A conversation's key has a newline: escaped once for all its messages, not once each.
  const escaped = new Map<string, string>()
  const once = (s: string): string => escaped.get(s) ?? escaped.set(s, copyText(s)).get(s)!
  let text = ''
  news.forEach((m, i) => {
    text += `${m.id}\t${once(m.convKey)}\t${m.seq}\t${once(m.sender)}\t${m.owner === null ? '\\N' : once(m.owner)}\t${m.serverTime}\t` +
      `${m.clientTime}\t${m.rand}\t${m.status}\t${m.origin}\t${elemMasks[i]}\t${copyText(contentJson(m.content))}\t${tallies[i]}\n`
  })
  return Buffer.from(text, 'utf8')
}

/**
 * New messages by COPY, in the running transaction: an import of 1000 took the server
 * 11 ms this way against 19 ms as INSERT … SELECT FROM unnest of 13 arrays (and 10 ms for
 * the naive 6-column INSERT), and its text needs no array literals escaped here. No ON
 * CONFLICT: false when the messages_import index refuses one as imported before (the
 * transaction is then aborted: writeWith's caller rolls it back and writes again).
 */
async function copyMessages (client: pg.ClientBase, news: readonly StoredMessage[], elemMasks: readonly number[], tallies: readonly number[]): Promise<boolean> {
  const stream = client.query(copyFrom(COPY_MESSAGES))
  stream.end(copyRows(news, elemMasks, tallies))
  try {
    await finished(stream)
    return true
  } catch (err) {
    if ((err as { code?: string }).code === '23505' && (err as { constraint?: string }).constraint === 'messages_import') return false
    throw translated(err)
  }
}

/**
 * Conversation, sender, time and rand of an import: a sender is printable ASCII and time
 * and rand are numbers, so no newline after the conversation's key (which has one) is
 * ever part of a value.
 */
const importKey = (m: NewMessage): string => `${m.conv.key}\n${m.sender}\n${m.serverTime}\n${m.rand}`

/** A stored message as a later read returns it (its content through JSON). */
const asRead = (m: StoredMessage): StoredMessage => ({ ...m, content: JSON.parse(JSON.stringify(m.content)) as StoredMessage['content'] })

const storedMessage = (m: NewMessage, id: number, seq: number, serverTime: number): StoredMessage => ({
  id, convKey: m.conv.key, seq, sender: m.sender, owner: m.owner, serverTime, clientTime: m.clientTime, rand: m.rand,
  status: m.status, origin: m.origin, revoker: null, deleted: false, content: m.content,
})

/**
 * The users' rows of the conversation list that stored messages change, one change per
 * user and conversation: an import of 1000 brings 2000 changes to two rows, folded in as
 * they come (not 2000 objects first).
 */
class RowTally {
  readonly #byRow = new Map<string, Map<string, RowChange>>()
  readonly #all: RowChange[] = []

  add (m: NewMessage, time: number): void {
    for (const c of rowChanges(m, time)) {
      let ofConv = this.#byRow.get(c.key)
      if (ofConv === undefined) this.#byRow.set(c.key, ofConv = new Map())
      const was = ofConv.get(c.user)
      if (was === undefined) {
        ofConv.set(c.user, c)
        this.#all.push(c)
      } else {
        was.time = Math.max(was.time, c.time)
        was.sent += c.sent
        was.unhide ||= c.unhide
      }
    }
  }

  /** after_insert's $6-$15: the C2C rows to upsert, the group rows to update. */
  params (): unknown[] {
    const c2c = this.#all.filter(c => !c.group)
    const groups = this.#all.filter(c => c.group)
    return [c2c.map(c => c.key), c2c.map(c => c.user), c2c.map(c => c.peer), c2c.map(c => c.time), c2c.map(c => c.sent),
      groups.map(c => c.key), groups.map(c => c.user), groups.map(c => c.unhide ? c.time : 0), groups.map(c => c.sent), groups.map(c => c.unhide)]
  }
}

/**
 * One message that is not an import, in one statement (the seq's row lock is held until it
 * commits), and `reader`'s read point in its conversation as that statement saw it.
 */
async function insertOneWith (db: Queryable, only: NewMessage, reader: string | null): Promise<Written> {
  // Row changes whose time the statement gives (m.server_time); a group's one change, its own.
  const changes = rowChanges(only, 0)
  const c2c = changes.filter(c => !c.group)
  const g = changes.find(c => c.group)
  const { rows: [row] } = await run<{ id: number, seq: number, server_time: number, read_time: number | null, read_seq: number, read_id: number }>(db, sql.insertOne, [
    only.conv.key, only.owner === null ? 1 : 0, only.sender, only.owner, only.serverTime, only.clientTime,
    only.rand, only.status, only.origin, only.elemMask, contentJson(only.content), only.refs.map(bytes),
    only.conv.users?.[0] ?? null, only.conv.users?.[1] ?? null, only.event,
    only.owner === null && only.origin === Origin.Sent ? 1 : 0,
    c2c.map(c => c.user), c2c.map(c => c.peer), c2c.map(c => c.sent),
    g?.user ?? null, g?.sent ?? 0, g?.unhide === true ? only.serverTime : 0, g?.unhide ?? false, ...searchParams(only), reader])
  return {
    stored: [storedMessage(only, row!.id, row!.seq, row!.server_time)],
    readPoint: row!.read_time === null ? undefined : { serverTime: row!.read_time, seq: row!.read_seq, id: row!.read_id },
  }
}

/** What insert_shared takes: shared messages that are not imports (sends, batches, server tips). */
const sharedSends = (messages: readonly NewMessage[]): boolean => messages.every(m => m.owner === null && m.origin !== Origin.Imported)

/**
 * Shared messages that are not imports (sharedSends: a group of sends, a batch), in one
 * statement on the pool, all or nothing, with each reader's read point.
 */
function insertSharedWith (pool: Queryable, messages: NewMessage[], readers: ReadonlyArray<string | undefined>): Promise<GroupWritten> {
  const search = messages.map(searchParams)
  const refs = messages.flatMap((m, i) => m.refs.map(ref => [i + 1, bytes(ref)] as const))
  return retrying(async () => {
    const { rows } = await run<{ i: number, id: number, seq: number, server_time: number, read_time: number | null, read_seq: number, read_id: number }>(pool, sql.insertShared, [
      messages.map(m => m.conv.key), messages.map(m => m.sender), messages.map(m => m.serverTime), messages.map(m => m.clientTime),
      messages.map(m => m.rand), messages.map(m => m.status), messages.map(m => m.origin), messages.map(m => m.elemMask),
      messages.map(m => contentJson(m.content)), messages.map(m => m.conv.users?.[0] ?? null), messages.map(m => m.conv.users?.[1] ?? null),
      messages.map(m => m.event), search.map(x => x[0]), search.map(x => x[1]), refs.map(r => r[0]), refs.map(r => r[1]), readers.map(r => r ?? null)])
    const stored: StoredMessage[] = new Array(messages.length)
    const points: Array<HistoryPosition | undefined> = messages.map(() => undefined)
    for (const row of rows) {
      stored[row.i - 1] = storedMessage(messages[row.i - 1]!, row.id, row.seq, row.server_time)
      if (row.read_time !== null) points[row.i - 1] = { serverTime: row.read_time, seq: row.read_seq, id: row.read_id }
    }
    return { stored, points }
  })
}

/** The (conversation, user) pairs whose read points a write answers: readers are per message, undefined for none. */
function askedPoints (messages: readonly NewMessage[], readers: ReadonlyArray<string | undefined>): { keys: string[], users: string[], at: number[] } {
  const asked = { keys: [] as string[], users: [] as string[], at: [] as number[] }
  readers.forEach((userId, at) => {
    if (userId === undefined) return
    asked.keys.push(messages[at]!.conv.key)
    asked.users.push(userId)
    asked.at.push(at)
  })
  return asked
}

/** Per message, the read point its reader asked for (rows of READ_POINTS_OF over `asked`). */
function pointsOf (count: number, asked: { at: number[] }, rows: ReadonlyArray<{ i: number, server_time: number, seq: number, id: number }>): Array<HistoryPosition | undefined> {
  const points: Array<HistoryPosition | undefined> = new Array(count).fill(undefined)
  for (const r of rows) points[asked.at[r.i - 1]!] = { serverTime: r.server_time, seq: r.seq, id: r.id }
  return points
}

/**
 * Stores messages on `db` (the pool for one plain message, else a transaction's client).
 * Each conversation's row in `conversations` is locked before anything is read or
 * allocated, in one order for all writers, so seqs come 1, 2, 3 … in commit order across
 * replicas, ids grow in that order too (what "delete all" relies on), and imports see
 * every import committed before them.
 */
export async function insertWith (db: pg.ClientBase, messages: NewMessage[], events: PgEventAppender): Promise<StoredMessage[]> {
  return (await writeWith(db, messages, events, [], false)).stored
}

/** A write's COPY of new imports met one imported before: its transaction is to be rolled back and the write run again, hopeless. */
class ImportedBefore extends Error {}

/**
 * insertWith, and per message the read point of its reader (readers: per message,
 * undefined for none) as the write saw it. `hopeful`: imports are rarely there already,
 * so they go first as if none were (no lookup of 1000 keys), by COPY, which the unique
 * index fails should one be there: then ImportedBefore, and the caller runs the write
 * again in a new transaction with the lookup. (A savepoint to go back to instead cost
 * every import a round trip.)
 */
async function writeWith (db: pg.ClientBase, messages: NewMessage[], events: PgEventAppender, readers: ReadonlyArray<string | undefined>,
  hopeful: boolean): Promise<GroupWritten> {
  const only = messages[0]
  if (only === undefined) return { stored: [], points: [] }
  if (messages.length === 1 && only.origin !== Origin.Imported) {
    const { stored, readPoint } = await insertOneWith(db, only, readers[0] ?? null)
    return { stored, points: [readPoint] }
  }
  const asked = askedPoints(messages, readers)
  const convs = [...new Map(messages.map(m => [m.conv.key, m.conv])).values()]
  const { rows: locked } = await run<{ conv_key: string, last_seq: number, last_time: number, tally: number }>(db, sql.lockConversations, [
    convs.map(c => c.key), convs.map(c => c.users?.[0] ?? null), convs.map(c => c.users?.[1] ?? null)])
  // Where the imports are (numbers, not an object per message: an import's objects live through every round trip).
  const imports: number[] = []
  messages.forEach((m, at) => { if (m.origin === Origin.Imported) imports.push(at) })
  if (imports.length > 0 && hopeful) {
    const fresh = await attempt(true)
    if (fresh === undefined) throw new ImportedBefore()
    return fresh
  }
  return (await attempt(false))!

  /** The write, given the conversations as locked; `byCopy`: with no lookup of stored imports, by COPY (undefined if one was stored). */
  async function attempt (byCopy: boolean): Promise<GroupWritten | undefined> {
    const before = new Map(locked.map(r => [r.conv_key, r.last_seq]))
    const lastSeq = new Map(before)
    const lastTime = new Map(locked.map(r => [r.conv_key, r.last_time]))
    const tally = new Map(locked.map(r => [r.conv_key, r.tally]))
    const activeTime = new Map(locked.map(r => [r.conv_key, 0]))

    const out: Array<StoredMessage | undefined> = new Array(messages.length).fill(undefined)
    if (imports.length > 0 && !byCopy) {
      const { rows } = await run<Row & { i: number }>(db, sql.findImported, [
        imports.map(at => messages[at]!.conv.key), imports.map(at => messages[at]!.sender), imports.map(at => messages[at]!.serverTime),
        imports.map(at => messages[at]!.rand)])
      for (const row of rows) out[imports[row.i - 1]!] = toMessage(row)
    }

    // What each new message gets, message by message (at: its place in `messages`).
    const created = { at: [] as number[], seq: [] as number[], serverTime: [] as number[], tally: [] as number[] }
    const twins: Array<{ at: number, of: number }> = []
    const firstImport = new Map<string, number>()
    messages.forEach((m, at) => {
      if (out[at] !== undefined) return
      if (m.origin === Origin.Imported) {
        // The same import twice in one call: the second is the first as stored.
        const key = importKey(m)
        const first = firstImport.get(key)
        if (first !== undefined) return twins.push({ at, of: first })
        firstImport.set(key, at)
      }
      let seq = 0
      let serverTime = m.serverTime
      let counted = 0
      if (m.owner === null) {
        seq = lastSeq.get(m.conv.key)! + 1
        lastSeq.set(m.conv.key, seq)
        if (m.origin !== Origin.Imported) {
          // A sent message's time never goes below the last sent one's: (time, seq) keeps commit order.
          serverTime = Math.max(serverTime, lastTime.get(m.conv.key)!)
          lastTime.set(m.conv.key, serverTime)
        }
        counted = tally.get(m.conv.key)! + (m.origin === Origin.Sent ? 1 : 0)
        tally.set(m.conv.key, counted)
        activeTime.set(m.conv.key, Math.max(activeTime.get(m.conv.key)!, serverTime))
      }
      created.at.push(at)
      created.seq.push(seq)
      created.serverTime.push(serverTime)
      created.tally.push(counted)
    })
    let pointRows: Array<{ i: number, server_time: number, seq: number, id: number }> = []
    if (created.at.length > 0) {
      const { rows } = await run<{ lo: number, hi: number }>(db, sql.nextIds, [created.at.length])
      const ids: number[] = []
      for (const { lo, hi } of rows) for (let id = lo; id <= hi; id++) ids.push(id)
      const news = created.at.map((at, i) => storedMessage(messages[at]!, ids[i]!, created.seq[i]!, created.serverTime[i]!))
      created.at.forEach((at, i) => { out[at] = news[i] })
      const elemMasks = created.at.map(at => messages[at]!.elemMask)
      if (byCopy) {
        if (!await copyMessages(db, news, elemMasks, created.tally)) return undefined
      } else {
        await run(db, sql.insertMany, [
          news.map(m => m.id), news.map(m => m.convKey), news.map(m => m.seq), news.map(m => m.sender),
          news.map(m => m.owner), news.map(m => m.serverTime), news.map(m => m.clientTime), news.map(m => m.rand),
          news.map(m => m.status), news.map(m => m.origin), elemMasks, news.map(m => contentJson(m.content)), created.tally])
      }
      const refs = created.at.flatMap((at, i) => messages[at]!.refs.map(ref => [news[i]!.convKey, bytes(ref), news[i]!.id] as const))
      if (refs.length > 0) await run(db, sql.insertRefs, [refs.map(r => r[0]), refs.map(r => r[1]), refs.map(r => r[2])])
      const blocks = await pendingBlocks(db, news, elemMasks)
      await events.messages(db, news.filter((_, i) => messages[created.at[i]!]!.event).map(m => ({ convKey: m.convKey, messageId: m.id, at: m.serverTime })))
      const advanced = convs.map(c => c.key).filter(k => lastSeq.get(k) !== before.get(k))
      const listRows = new RowTally()
      created.at.forEach((at, i) => listRows.add(messages[at]!, created.serverTime[i]!))
      ;({ rows: pointRows } = await run<{ i: number, server_time: number, seq: number, id: number }>(db, sql.afterInsert, [
        advanced, advanced.map(k => lastSeq.get(k)!), advanced.map(k => lastTime.get(k)!), advanced.map(k => tally.get(k)!), advanced.map(k => activeTime.get(k)!),
        ...listRows.params(), ...mergeParams(blocks), asked.keys, asked.users]))
    } else if (asked.at.length > 0) {
      ({ rows: pointRows } = await run<{ i: number, server_time: number, seq: number, id: number }>(db, sql.readPointsOf, [asked.keys, asked.users]))
    }
    for (const { at, of } of twins) out[at] = asRead(out[of]!)
    return { stored: out as StoredMessage[], points: pointsOf(messages.length, asked, pointRows) }
  }
}

/**
 * Deletes a conversation's history for a user, in a transaction: after the conversation's
 * lock, every message stored before is committed and visible, and every later one gets a
 * greater id (and a greater tally).
 */
export async function clearWith (client: Queryable, convKey: string, userId: string): Promise<void> {
  await run(client, sql.lockConversation, [convKey])
  await run(client, sql.clearFor, [convKey, userId])
}

/** Moves read points of one user (MessageStore.markRead, several at once); a race lost to another writer runs again. */
export async function markReads (pool: pg.Pool, userId: string, moves: ReadonlyArray<{ convKey: string, to: HistoryPosition, receipt: boolean }>, at: number): Promise<void> {
  if (moves.length === 0) return
  await retrying(() => run(pool, sql.markRead, [moves.map(m => m.convKey), userId, moves.map(m => m.to.serverTime), moves.map(m => m.to.seq),
    moves.map(m => m.to.id), moves.map(m => m.receipt), at]))
}

export function pgMessages (pool: pg.Pool, poolSize: number, events: PgEventAppender, now: () => number): MessageStore {
  const one = async (stmt: typeof sql[keyof typeof sql], values: unknown[]): Promise<StoredMessage | undefined> => {
    const { rows: [row] } = await run<Row>(pool, stmt, values)
    return row === undefined ? undefined : toMessage(row)
  }
  /**
   * Messages of one or more writes, all or nothing, with each reader's read point (per
   * message): sends and batches in one statement (their conversations locked only while it
   * runs), anything else in a transaction.
   */
  const together = async (messages: NewMessage[], readers: ReadonlyArray<string | undefined>): Promise<GroupWritten> => {
    if (sharedSends(messages)) return insertSharedWith(pool, messages, readers)
    return transaction(pool, client => writeWith(client, messages, events, readers, true)).catch(async (err: unknown) => {
      if (!(err instanceof ImportedBefore)) throw err
      return transaction(pool, client => writeWith(client, messages, events, readers, false))
    })
  }
  const alone = async (messages: NewMessage[], reader?: string): Promise<Written> => {
    const only = messages[0]
    if (only === undefined) return { stored: [], readPoint: undefined }
    if (messages.length === 1 && only.origin !== Origin.Imported) return retrying(() => insertOneWith(pool, only, reader ?? null))
    const { stored, points } = await together(messages, messages.map((_, i) => i === 0 ? reader : undefined))
    return { stored, readPoint: points[0] }
  }
  // Half the pool for groups of writes: reads keep connections of their own.
  const grouped = groupCommit(alone, { accepts: sharedSends, write: together }, { maxInFlight: Math.max(1, Math.floor(poolSize / 2)) })
  const write = async (messages: NewMessage[], reader?: string): Promise<Written> => {
    const written = await grouped(messages, reader)
    if (messages.some(m => m.event)) events.committed()
    return written
  }
  return {
    async insert (messages) {
      return (await write(messages)).stored
    },
    async insertReading (messages, reader) {
      return write(messages, reader)
    },
    async allocateId () {
      const { rows: [row] } = await run<{ id: number }>(pool, sql.nextId, [])
      return row!.id
    },
    async get (convKey, viewer, id) {
      return one(sql.byId, [convKey, id, viewer])
    },
    async findByLocators (convKey, viewer, locators) {
      if (locators.length === 0) return []
      const { rows } = await run<Row & { i: number }>(pool, sql.byLocators, [
        convKey, viewer, locators.map(l => l.seq), locators.map(l => l.rand), locators.map(l => l.time)])
      const found = new Map(rows.map(r => [r.i, toMessage(r)]))
      return locators.map((_, i) => found.get(i + 1))
    },
    async newest (convKey, viewer) {
      return one(sql.newest, [convKey, viewer])
    },
    async history (q) {
      const { lo, hi } = historyBounds(q)
      const { rows } = await run<Row>(pool, q.forward ? sql.newer : sql.older, [
        q.convKey, q.viewer, lo.serverTime, lo.seq, lo.id, hi.serverTime, hi.seq, hi.id, q.elemMask ?? 0, q.limit])
      return rows.map(toMessage)
    },
    async revoke (convKey, id, t) {
      // The text leaves the search index in the revoke's transaction.
      await transaction(pool, async client => {
        await unindexWith(client, convKey, id)
        await run(client, sql.revoke, [convKey, id, t.status, t.revoker, t.elemMask, JSON.stringify(t.content), now()])
      })
      events.committed()
    },
    async findByRef (ref, viewer, anyGroup = false) {
      return one(sql.byRef, [bytes(ref), viewer, anyGroup])
    },
    async markRead (convKey, userId, to, receipt) {
      await markReads(pool, userId, [{ convKey, to, receipt }], now())
      if (receipt) events.committed()
    },
    async readPoint (convKey, userId) {
      const { rows: [row] } = await run<{ server_time: number, seq: number, id: number }>(pool, sql.readPoint, [convKey, userId])
      return row === undefined ? undefined : { serverTime: row.server_time, seq: row.seq, id: row.id }
    },
    async readPoints (convKeys) {
      const { rows } = await run<{ conv_key: string, user_id: string, server_time: number, seq: number, id: number }>(pool, sql.readPoints, [[...new Set(convKeys)]])
      return rows.map(r => ({ convKey: r.conv_key, userId: r.user_id, at: { serverTime: r.server_time, seq: r.seq, id: r.id } }))
    },
    async sharedMany (refs) {
      if (refs.length === 0) return []
      const { rows } = await run<Row>(pool, sql.sharedMany, [refs.map(r => r.convKey), refs.map(r => r.id)])
      return rows.map(toMessage)
    },
    async deleteFor (convKey, userId, messageId) {
      await run(pool, sql.deleteFor, [convKey, userId, messageId])
    },
    async clearFor (convKey, userId) {
      await transaction(pool, async client => {
        // After the conversation's lock, every message stored before this call is committed
        // and visible, and every later one gets a greater id.
        await clearWith(client, convKey, userId)
      })
    },
  }
}
