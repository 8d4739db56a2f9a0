import { Origin } from '../store.js'
import type { Statement } from './pool.js'

/**
 * Every statement of the PostgreSQL store, named: pg prepares each once per connection.
 * Parameters in a SELECT list are cast, as PostgreSQL cannot infer their types there.
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
 * index range whatever the conversation's size (the time filter folds into them).
 */
const range = `m.conv_key = $1 AND (m.server_time, m.seq, m.id) > ($3::bigint, $4::bigint, $5::bigint)
  AND (m.server_time, m.seq, m.id) < ($6::bigint, $7::bigint, $8::bigint)
  AND ${visible('$2')} AND ($9::integer = 0 OR (m.elem_mask & $9::integer) <> 0)
  AND m.id > coalesce((SELECT c.up_to_id FROM clears c WHERE c.conv_key = $1 AND c.user_id = $2), 0)
  AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = $1 AND d.user_id = $2 AND d.message_id = m.id)`

const statement = (name: string, text: string): Statement => ({ name: `timgate_${name}`, text })

export const statements = {
  /**
   * One message, one statement: the conversation's row is upserted (+1 for a shared
   * message, +0 for a saved one, which still takes the lock) and holds its lock until the
   * statement commits, so concurrent senders on any replica line up behind it.
   */
  insertOne: statement('insert_one', `WITH c AS (
      INSERT INTO conversations AS c (conv_key, last_seq, last_time) VALUES ($1, $2::bigint, CASE WHEN $2::bigint = 1 THEN $5::bigint ELSE 0 END)
      ON CONFLICT (conv_key) DO UPDATE SET last_seq = c.last_seq + excluded.last_seq, last_time = greatest(c.last_time, excluded.last_time)
      RETURNING c.last_seq, c.last_time),
    m AS (
      INSERT INTO messages (conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content)
      SELECT $1::text, CASE WHEN $2::bigint = 1 THEN c.last_seq ELSE 0 END, $3::text, $4::text,
        CASE WHEN $2::bigint = 1 THEN c.last_time ELSE $5::bigint END, $6::bigint,
        $7::bigint, $8::integer, $9::integer, $10::integer, $11::text
      FROM c
      RETURNING id, seq, server_time),
    r AS (INSERT INTO message_refs (conv_key, ref, message_id) SELECT $1::text, ref, m.id FROM m, unnest($12::bytea[]) AS ref)
    SELECT id, seq, server_time FROM m`),
  /** Locks conversations in key order (the one order of every writer: no deadlock), creating missing ones. */
  lockConversations: statement('lock_conversations', `INSERT INTO conversations AS c (conv_key, last_seq)
    SELECT k, 0 FROM unnest($1::text[]) AS k ORDER BY k COLLATE "C"
    ON CONFLICT (conv_key) DO UPDATE SET last_seq = c.last_seq
    RETURNING c.conv_key, c.last_seq, c.last_time`),
  setLastSeqs: statement('set_last_seqs', `UPDATE conversations AS c SET last_seq = v.last_seq, last_time = v.last_time
    FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(conv_key, last_seq, last_time) WHERE c.conv_key = v.conv_key`),
  /** The stored imports among (conv_key, sender, time, rand) candidates, each as its sender sees it; i is 1-based. */
  findImported: statement('find_imported', `SELECT k.i, ${columns('k.sender')}
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS k(conv_key, sender, t, r, i)
    JOIN messages m ON m.conv_key = k.conv_key AND m.sender = k.sender AND m.server_time = k.t AND m.rand = k.r
      AND m.origin = ${Origin.Imported}`),
  nextIds: statement('next_ids', 'SELECT nextval(\'message_ids\') AS id FROM generate_series(1, $1::integer)'),
  insertMany: statement('insert_many', `INSERT INTO messages
      (id, conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
      $8::bigint[], $9::integer[], $10::integer[], $11::integer[], $12::text[])`),
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
    ORDER BY m.server_time DESC, m.seq DESC, m.id DESC LIMIT $10`),
  newer: statement('newer', `SELECT ${pageColumns} FROM messages m WHERE ${range}
    ORDER BY m.server_time, m.seq, m.id LIMIT $10`),

  /** The content goes, and the media references with it. */
  revoke: statement('revoke', `WITH refs AS (DELETE FROM message_refs WHERE message_id = $1)
    UPDATE messages SET status = 6, revoker = $2, elem_mask = 0, content = '{"message_elem_array":[]}' WHERE id = $1`),
  /**
   * The newest message carrying a media ref that the viewer may see: its own saved one, one
   * of a C2C thread it is in ('c2c:<a>\n<b>'), or one of a group it is a member of now.
   */
  byRef: statement('by_ref', `SELECT ${columns('$2')} FROM messages m WHERE (m.conv_key, m.id) = (
      SELECT r.conv_key, r.message_id FROM message_refs r JOIN messages x ON x.conv_key = r.conv_key AND x.id = r.message_id
      WHERE r.ref = $1 AND (x.owner = $2 OR (x.owner IS NULL AND (
        (left(r.conv_key, 4) = 'c2c:' AND $2 IN (split_part(substr(r.conv_key, 5), chr(10), 1), split_part(substr(r.conv_key, 5), chr(10), 2)))
        OR (left(r.conv_key, 6) = 'group:' AND ($3::boolean OR EXISTS (
          SELECT 1 FROM group_members gm WHERE gm.conv_key = r.conv_key AND gm.user_id = $2))))))
      ORDER BY r.message_id DESC LIMIT 1)`),
  /** The read point moves only forward, also when two replicas race. */
  markRead: statement('mark_read', `INSERT INTO read_points AS r (conv_key, user_id, server_time, seq, id) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (conv_key, user_id) DO UPDATE SET server_time = excluded.server_time, seq = excluded.seq, id = excluded.id
    WHERE (excluded.server_time, excluded.seq, excluded.id) > (r.server_time, r.seq, r.id)`),
  readPoint: statement('read_point', 'SELECT server_time, seq, id FROM read_points WHERE conv_key = $1 AND user_id = $2'),
  deleteFor: statement('delete_for', 'INSERT INTO deletions (conv_key, user_id, message_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING'),
  clearFor: statement('clear_for', `INSERT INTO clears AS c (conv_key, user_id, up_to_id)
    SELECT $1::text, $2::text, coalesce(max(id), 0) FROM messages WHERE conv_key = $1::text
    ON CONFLICT (conv_key, user_id) DO UPDATE SET up_to_id = greatest(c.up_to_id, excluded.up_to_id)`),

  insertGroup: statement('insert_group', `INSERT INTO groups (conv_key, group_id, group_name, owner, created_at)
    VALUES ($1, $2, $3, $4, extract(epoch FROM clock_timestamp())::bigint) ON CONFLICT DO NOTHING`),
  /** joined_at is a per-group counter (join order survives any clock): the founders are 1, 2, 3 … */
  insertMembers: statement('insert_members', `INSERT INTO group_members (conv_key, user_id, role, joined_at)
    SELECT $1::text, u.user_id, u.role, u.i FROM unnest($2::text[], $3::integer[]) WITH ORDINALITY AS u(user_id, role, i)`),
  /** Membership changes of a group take turns on its row: each sees the one before. */
  lockGroup: statement('lock_group', 'SELECT 1 FROM groups WHERE conv_key = $1 FOR UPDATE'),
  roleOf: statement('role_of', 'SELECT role FROM group_members WHERE conv_key = $1 AND user_id = $2'),
  setMember: statement('set_member', `INSERT INTO group_members (conv_key, user_id, role, joined_at)
    VALUES ($1, $2, $3, (SELECT coalesce(max(joined_at), 0) + 1 FROM group_members WHERE conv_key = $1))
    ON CONFLICT (conv_key, user_id) DO UPDATE SET role = excluded.role`),
  removeMember: statement('remove_member', 'DELETE FROM group_members WHERE conv_key = $1 AND user_id = $2'),
  getGroup: statement('get_group', `SELECT g.group_id, g.group_name, g.owner, m.user_id, m.role
    FROM groups g LEFT JOIN group_members m ON m.conv_key = g.conv_key
    WHERE g.conv_key = $1 ORDER BY m.joined_at, m.user_id`),

  expireKeys: statement('expire_keys', 'DELETE FROM idempotency_keys WHERE created_at < $1'),
  retakeKey: statement('retake_key', `UPDATE idempotency_keys SET created_at = $1
    WHERE owner = $2 AND key = $3 AND request_hash = $4 AND status IS NULL AND created_at < $5`),
  keysCarrying: statement('keys_carrying', `SELECT k.owner, k.key, k.body FROM idempotency_refs r
    JOIN idempotency_keys k ON k.owner = r.owner AND k.key = r.key WHERE r.msg_id = $1 FOR UPDATE OF k`),
  rewriteKey: statement('rewrite_key', 'UPDATE idempotency_keys SET body = $1 WHERE owner = $2 AND key = $3'),
  claimKey: statement('claim_key', `INSERT INTO idempotency_keys (owner, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT DO NOTHING`),
  getKey: statement('get_key', 'SELECT request_hash, status, body, created_at FROM idempotency_keys WHERE owner = $1 AND key = $2'),
  /** Records the response and the message ids it carries ($5), in one statement. */
  completeKey: statement('complete_key', `WITH k AS (
      UPDATE idempotency_keys SET status = $1, body = $2 WHERE owner = $3 AND key = $4 RETURNING owner, key)
    INSERT INTO idempotency_refs (msg_id, owner, key) SELECT m, k.owner, k.key FROM k, unnest($5::text[]) AS m
    ON CONFLICT DO NOTHING`),
  releaseKey: statement('release_key', 'DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2'),
} as const
