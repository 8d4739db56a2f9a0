import type pg from 'pg'
import { Origin, type ConversationEntry, type ConversationStore, type HistoryPosition } from '../store.js'
import { rowToMessage } from '../rows.js'
import { clearWith, markReads } from './messages.js'
import { run, statement, transaction } from './pool.js'

/** The columns of a user's row joined to its conversation's head (see migration 011 for the counts). */
const ROW = `u.floor, u.floor_sent, u.sent, u.ahead_from, u.ahead_to, coalesce(c.tally, 0) AS tally`
/** A group is as active as its newest message, or as the user's joining or own saved messages. */
const GROUP_ACT = 'greatest(u.active_time, coalesce(c.active_time, 0))'

/**
 * Unread of each row of `source` (for user $1): the upper bound (tally - floor - own), less
 * the others' messages past the floor that were revoked, that the user deleted, or that lie
 * before a read point dated ahead; each an index range over those messages only, run only
 * where the bound is above 0.
 */
const unread = (p: string) => `CASE WHEN ${p}.bound <= 0 THEN 0 ELSE ${p}.bound
  - (SELECT count(*) FROM messages r WHERE r.conv_key = ${p}.conv_key AND r.status = 6 AND r.origin = ${Origin.Sent} AND r.owner IS NULL
      AND r.tally > ${p}.floor AND r.sender <> $1::text)
  - (SELECT count(*) FROM deletions d JOIN messages m ON m.conv_key = d.conv_key AND m.id = d.message_id
      WHERE d.conv_key = ${p}.conv_key AND d.user_id = $1::text AND m.origin = ${Origin.Sent} AND m.owner IS NULL AND m.status <> 6
      AND m.tally > ${p}.floor AND m.sender <> $1::text)
  - CASE WHEN ${p}.ahead_to = 0 THEN 0 ELSE (SELECT count(*) FROM messages w WHERE w.conv_key = ${p}.conv_key
      AND w.server_time >= ${p}.ahead_from AND w.server_time < ${p}.ahead_to AND w.origin = ${Origin.Sent} AND w.owner IS NULL AND w.status <> 6
      AND w.tally > ${p}.floor AND w.sender <> $1::text
      AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = w.conv_key AND d.user_id = $1::text AND d.message_id = w.id)) END
  END`

/** Entries of the rows of `source` for user $1: unread, the newest message of its history, both read points; in list order. */
const entries = (source: string) => `SELECT p.conv_key, p.is_group, p.peer, p.pinned, p.act, ${unread('p')} AS unread,
    rp.server_time AS r_time, rp.seq AS r_seq, rp.id AS r_id, pp.server_time AS p_time, pp.seq AS p_seq, pp.id AS p_id,
    lm.id AS m_id, lm.seq AS m_seq, lm.sender AS m_sender, lm.owner AS m_owner, lm.server_time AS m_server_time,
    lm.client_time AS m_client_time, lm.rand AS m_rand, lm.status AS m_status, lm.origin AS m_origin, lm.revoker AS m_revoker, lm.content AS m_content
  FROM (SELECT s.*, s.tally - s.floor - (s.sent - s.floor_sent) AS bound FROM (${source}) s) p
  LEFT JOIN read_points rp ON rp.conv_key = p.conv_key AND rp.user_id = $1::text
  LEFT JOIN read_points pp ON pp.conv_key = p.conv_key AND pp.user_id = p.peer
  LEFT JOIN LATERAL (SELECT m.* FROM messages m WHERE m.conv_key = p.conv_key AND (m.owner IS NULL OR m.owner = $1::text)
      AND m.id > coalesce((SELECT c.up_to_id FROM clears c WHERE c.conv_key = p.conv_key AND c.user_id = $1::text), 0)
      AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = p.conv_key AND d.user_id = $1::text AND d.message_id = m.id)
      ORDER BY m.server_time DESC, m.seq DESC, m.id DESC LIMIT 1) lm ON true
  ORDER BY p.pinned DESC, p.act DESC, p.conv_key DESC`

const sql = {
  /** A page: the C2C part is one backward range of user_conversations_c2c; each group joins its head. */
  page: statement('conversation_page', entries(`
    (SELECT u.conv_key, u.is_group, u.peer, u.pinned, u.active_time AS act, ${ROW}
      FROM user_conversations u LEFT JOIN conversations c ON c.conv_key = u.conv_key
      WHERE u.user_id = $1::text AND NOT u.is_group AND u.listed AND (u.pinned, u.active_time, u.conv_key) < ($2::smallint, $3::bigint, $4::text)
      ORDER BY u.pinned DESC, u.active_time DESC, u.conv_key DESC LIMIT $5)
    UNION ALL
    (SELECT u.conv_key, u.is_group, u.peer, u.pinned, ${GROUP_ACT} AS act, ${ROW}
      FROM user_conversations u LEFT JOIN conversations c ON c.conv_key = u.conv_key
      WHERE u.user_id = $1::text AND u.is_group AND (u.hidden_seq IS NULL OR coalesce(c.last_seq, 0) > u.hidden_seq)
        AND (u.pinned, ${GROUP_ACT}, u.conv_key) < ($2::smallint, $3::bigint, $4::text)
      ORDER BY u.pinned DESC, act DESC, u.conv_key DESC LIMIT $5)
    ORDER BY pinned DESC, act DESC, conv_key DESC LIMIT $5`)),
  /** One conversation, with a row or not ($2 key, $3 whether a group, $4 the peer). */
  one: statement('conversation_one', entries(`
    SELECT $2::text AS conv_key, coalesce(u.is_group, $3::boolean) AS is_group, coalesce(u.peer, $4::text) AS peer, coalesce(u.pinned, 0) AS pinned,
      CASE WHEN coalesce(u.is_group, $3::boolean) THEN ${GROUP_ACT.replace('u.active_time', 'coalesce(u.active_time, 0)')} ELSE coalesce(u.active_time, 0) END AS act,
      coalesce(u.floor, 0) AS floor, coalesce(u.floor_sent, 0) AS floor_sent, coalesce(u.sent, 0) AS sent,
      coalesce(u.ahead_from, 0) AS ahead_from, coalesce(u.ahead_to, 0) AS ahead_to, CASE WHEN u.user_id IS NULL THEN 0 ELSE coalesce(c.tally, 0) END AS tally
    FROM (SELECT 1) AS one LEFT JOIN user_conversations u ON u.user_id = $1::text AND u.conv_key = $2::text
      LEFT JOIN conversations c ON c.conv_key = $2::text`)),
  total: statement('conversation_total', `SELECT coalesce(sum(${unread('p')}), 0)::bigint AS total
    FROM (SELECT u.conv_key, ${ROW}, coalesce(c.tally, 0) - u.floor - (u.sent - u.floor_sent) AS bound
      FROM user_conversations u LEFT JOIN conversations c ON c.conv_key = u.conv_key WHERE u.user_id = $1::text) p`),
  /** The user's conversations whose newest message (deleted or not) lies past its read point. */
  behind: statement('conversations_behind', `SELECT u.conv_key, u.is_group, n.server_time, n.seq, n.id FROM user_conversations u
    CROSS JOIN LATERAL (SELECT m.server_time, m.seq, m.id FROM messages m WHERE m.conv_key = u.conv_key AND (m.owner IS NULL OR m.owner = $1::text)
      ORDER BY m.server_time DESC, m.seq DESC, m.id DESC LIMIT 1) n
    LEFT JOIN read_points rp ON rp.conv_key = u.conv_key AND rp.user_id = $1::text
    WHERE u.user_id = $1::text AND (rp.conv_key IS NULL OR (n.server_time, n.seq, n.id) > (rp.server_time, rp.seq, rp.id))
    ORDER BY u.conv_key`),
  pinC2c: statement('pin_c2c', `INSERT INTO user_conversations (user_id, conv_key, is_group, peer, listed, pinned) VALUES ($1, $2, false, $3, false, 1)
    ON CONFLICT (user_id, conv_key) DO UPDATE SET pinned = 1`),
  setPinned: statement('set_pinned', 'UPDATE user_conversations SET pinned = $3 WHERE user_id = $1 AND conv_key = $2'),
  exists: statement('conversation_exists', 'SELECT is_group FROM user_conversations WHERE user_id = $1 AND conv_key = $2'),
  hide: statement('hide_conversation', `UPDATE user_conversations SET pinned = 0, listed = is_group AND listed,
    hidden_seq = CASE WHEN is_group THEN coalesce((SELECT last_seq FROM conversations WHERE conv_key = $2), 0) ELSE hidden_seq END
    WHERE user_id = $1 AND conv_key = $2`),
} as const

interface EntryRow {
  conv_key: string
  is_group: boolean
  peer: string | null
  pinned: number
  act: number
  unread: number
  r_time: number | null
  r_seq: number | null
  r_id: number | null
  p_time: number | null
  p_seq: number | null
  p_id: number | null
  m_id: number | null
  m_seq: number
  m_sender: string
  m_owner: string | null
  m_server_time: number
  m_client_time: number
  m_rand: number
  m_status: number
  m_origin: number
  m_revoker: string | null
  m_content: string
}

const point = (t: number | null, seq: number | null, id: number | null): HistoryPosition | undefined =>
  t === null || seq === null || id === null ? undefined : { serverTime: t, seq, id }

const toEntry = (r: EntryRow): ConversationEntry => ({
  convKey: r.conv_key,
  peer: r.peer,
  isGroup: r.is_group,
  pinned: r.pinned === 1,
  activeTime: r.act,
  unread: Number(r.unread),
  last: r.m_id === null
    ? undefined
    : rowToMessage({
      id: r.m_id, conv_key: r.conv_key, seq: r.m_seq, sender: r.m_sender, owner: r.m_owner, server_time: r.m_server_time,
      client_time: r.m_client_time, rand: r.m_rand, status: r.m_status, origin: r.m_origin, revoker: r.m_revoker, deleted: false, content: r.m_content,
    }),
  read: point(r.r_time, r.r_seq, r.r_id),
  peerRead: point(r.p_time, r.p_seq, r.p_id),
})

/** Read points moved at once by "mark all read". */
const READ_BATCH = 500

/** The conversation list on a pool: one statement per page, per conversation and per total. */
export function pgConversations (pool: pg.Pool, committed: () => void, now: () => number): ConversationStore {
  return {
    async list (user, after, limit) {
      const at = after === undefined ? [2, Number.MAX_SAFE_INTEGER, ''] : [after.pinned ? 1 : 0, after.activeTime, after.convKey]
      // One row more than asked says whether more follow (its details are computed too: one statement).
      const { rows } = await run<EntryRow>(pool, sql.page, [user, ...at, limit + 1])
      return { entries: rows.slice(0, limit).map(toEntry), more: rows.length > limit }
    },
    async get (user, conv) {
      const peer = conv.users === undefined ? null : conv.users[0] === user ? conv.users[1] : conv.users[0]
      const { rows: [row] } = await run<EntryRow>(pool, sql.one, [user, conv.key, conv.users === undefined, peer])
      return toEntry(row!)
    },
    async totalUnread (user) {
      const { rows: [row] } = await run<{ total: number }>(pool, sql.total, [user])
      return Number(row?.total ?? 0)
    },
    async markAllRead (user) {
      const { rows } = await run<{ conv_key: string, is_group: boolean, server_time: number, seq: number, id: number }>(pool, sql.behind, [user])
      for (let i = 0; i < rows.length; i += READ_BATCH) {
        await markReads(pool, user, rows.slice(i, i + READ_BATCH).map(r => ({
          convKey: r.conv_key, to: { serverTime: r.server_time, seq: r.seq, id: r.id }, receipt: !r.is_group,
        })), now())
      }
      if (rows.some(r => !r.is_group)) committed()
    },
    async setPinned (user, conv, pinned) {
      if (conv.users !== undefined && pinned) {
        await run(pool, sql.pinC2c, [user, conv.key, conv.users[0] === user ? conv.users[1] : conv.users[0]])
        return true
      }
      const { rowCount } = await run(pool, sql.setPinned, [user, conv.key, pinned ? 1 : 0])
      return (rowCount ?? 0) > 0 || conv.users !== undefined
    },
    async remove (user, conv) {
      return transaction(pool, async client => {
        if (conv.users === undefined && (await run(client, sql.exists, [user, conv.key])).rowCount === 0) return false
        await clearWith(client, conv.key, user)
        await run(client, sql.hide, [user, conv.key])
        return true
      })
    },
  }
}
