import type { Database } from 'better-sqlite3'
import { Origin, type ConversationEntry, type ConversationStore, type ConvRef, type HistoryPosition } from '../store.js'
import { rowToMessage, type MessageRow } from '../rows.js'
import type { Write } from './group-commit.js'
import type { Seqs } from './seqs.js'
import type { SqliteMessages } from './messages.js'

/** A user's row joined to its conversation's head (see migration 011 for what each count is). */
interface Row {
  conv_key: string
  is_group: number
  peer: string | null
  pinned: number
  act: number
  floor: number
  floor_sent: number
  sent: number
  ahead_from: number
  ahead_to: number
  tally: number
}

/** What the unread exceptions of one conversation are counted with (`counted` 0: not counted, all 0). */
interface Counted { key: string, user: string, floor: number, aheadFrom: number, aheadTo: number, counted: number }
/** Others' messages past the floor that do not count as unread (see migration 011); named apart from a message row's columns. */
interface Exceptions { not_revoked: number, not_deleted: number, not_early: number }
/** The read points of a user and of its peer, as columns (null: none). */
interface Points { r_time: number | null, r_seq: number | null, r_id: number | null, p_time: number | null, p_seq: number | null, p_id: number | null }

/** Above every position: the first page. */
const TOP = { p: 2, t: Number.MAX_SAFE_INTEGER, k: '' }

const COLUMNS = 'u.conv_key, u.is_group, u.peer, u.pinned, u.floor, u.floor_sent, u.sent, u.ahead_from, u.ahead_to, coalesce(c.tally, 0) AS tally'
/** A group is as active as its newest message, or as the user's joining or own saved messages. */
const GROUP_ACT = 'max(u.active_time, coalesce(c.active_time, 0))'

/** List order: pinned, activity, key, all descending (row values over the same three). */
const byListOrder = (x: Row, y: Row): number => y.pinned - x.pinned || y.act - x.act || (x.conv_key < y.conv_key ? 1 : x.conv_key > y.conv_key ? -1 : 0)

/**
 * The conversation list on one SQLite connection. A C2C page is one backward range of
 * user_conversations_c2c; a user's groups are each joined to their head (the group's own
 * last seq, time and tally), so that a group message writes no member's row.
 */
export function sqliteConversations (db: Database, write: Write, seqs: Seqs, messages: SqliteMessages): ConversationStore {
  const c2cPage = db.prepare<{ user: string, p: number, t: number, k: string, limit: number }, Row>(
    `SELECT ${COLUMNS}, u.active_time AS act FROM user_conversations u INDEXED BY user_conversations_c2c
       LEFT JOIN conversations c ON c.conv_key = u.conv_key
     WHERE u.user_id = @user AND u.is_group = 0 AND u.listed = 1 AND (u.pinned, u.active_time, u.conv_key) < (@p, @t, @k)
     ORDER BY u.pinned DESC, u.active_time DESC, u.conv_key DESC LIMIT @limit`)
  const groupPage = db.prepare<{ user: string, p: number, t: number, k: string, limit: number }, Row>(
    `SELECT ${COLUMNS}, ${GROUP_ACT} AS act FROM user_conversations u INDEXED BY user_conversations_groups
       LEFT JOIN conversations c ON c.conv_key = u.conv_key
     WHERE u.user_id = @user AND u.is_group = 1 AND (u.hidden_seq IS NULL OR coalesce(c.last_seq, 0) > u.hidden_seq)
       AND (u.pinned, ${GROUP_ACT}, u.conv_key) < (@p, @t, @k)
     ORDER BY u.pinned DESC, act DESC, u.conv_key DESC LIMIT @limit`)
  const one = db.prepare<[string, string], Row>(
    `SELECT ${COLUMNS}, CASE WHEN u.is_group = 1 THEN ${GROUP_ACT} ELSE u.active_time END AS act
     FROM user_conversations u LEFT JOIN conversations c ON c.conv_key = u.conv_key WHERE u.user_id = ? AND u.conv_key = ?`)
  const all = db.prepare<[string], Row>(
    `SELECT ${COLUMNS}, 0 AS act FROM user_conversations u LEFT JOIN conversations c ON c.conv_key = u.conv_key WHERE u.user_id = ? ORDER BY u.conv_key`)
  const headActivity = db.prepare<[string], { active_time: number }>('SELECT active_time FROM conversations WHERE conv_key = ?')
  // What the upper bound (tally - floor - own) counts that is not unread: others' messages
  // past the floor that were revoked, that the user deleted, or that lie before a read
  // point dated ahead. Each is an index range over those messages only.
  // (Counted only when the bound is positive, @counted.)
  const EXCEPTIONS = `
       CASE WHEN @counted THEN (SELECT count(*) FROM messages r INDEXED BY messages_revoked WHERE r.conv_key = @key AND r.status = 6 AND r.origin = ${Origin.Sent}
          AND r.owner IS NULL AND r.tally > @floor AND r.sender <> @user) ELSE 0 END AS not_revoked,
       CASE WHEN @counted THEN (SELECT count(*) FROM deletions d JOIN messages m ON m.id = d.message_id WHERE d.conv_key = @key AND d.user_id = @user
          AND m.origin = ${Origin.Sent} AND m.owner IS NULL AND m.status <> 6 AND m.tally > @floor AND m.sender <> @user) ELSE 0 END AS not_deleted,
       CASE WHEN NOT @counted OR @aheadTo = 0 THEN 0 ELSE (SELECT count(*) FROM messages w INDEXED BY messages_history WHERE w.conv_key = @key
          AND w.server_time >= @aheadFrom AND w.server_time < @aheadTo AND w.origin = ${Origin.Sent} AND w.owner IS NULL AND w.status <> 6
          AND w.tally > @floor AND w.sender <> @user
          AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = @key AND d.user_id = @user AND d.message_id = w.id)) END AS not_early`
  const exceptions = db.prepare<Counted, Exceptions>(`SELECT ${EXCEPTIONS}`)
  // The newest message of the user's history (what a page of history would start with),
  // the read points of the user and of the peer, and the unread exceptions: one statement
  // per conversation of a page.
  const details = db.prepare<Counted & { peer: string | null }, { [K in keyof MessageRow]: MessageRow[K] | null } & Points & Exceptions>(
    `SELECT ${EXCEPTIONS}, m.id, m.conv_key, m.seq, m.sender, m.owner, m.server_time, m.client_time, m.rand, m.status, m.origin, m.revoker, m.content,
       0 AS deleted, r.server_time AS r_time, r.seq AS r_seq, r.id AS r_id, p.server_time AS p_time, p.seq AS p_seq, p.id AS p_id
     FROM (SELECT 1) AS one
     LEFT JOIN messages m ON m.id = (SELECT id FROM messages INDEXED BY messages_history
       WHERE conv_key = @key AND (owner IS NULL OR owner = @user)
         AND id > coalesce((SELECT up_to_id FROM clears c WHERE c.conv_key = @key AND c.user_id = @user), 0)
         AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = @key AND d.user_id = @user AND d.message_id = messages.id)
       ORDER BY server_time DESC, seq DESC, id DESC LIMIT 1)
     LEFT JOIN read_points r ON r.conv_key = @key AND r.user_id = @user
     LEFT JOIN read_points p ON p.conv_key = @key AND p.user_id = @peer`)
  // The newest message the user may see, deleted or not: where "read" puts the read point.
  const newest = db.prepare<[string, string], { server_time: number, seq: number, id: number }>(
    `SELECT server_time, seq, id FROM messages INDEXED BY messages_history WHERE conv_key = ? AND (owner IS NULL OR owner = ?)
     ORDER BY server_time DESC, seq DESC, id DESC LIMIT 1`)
  const exists = db.prepare<[string, string], { is_group: number }>('SELECT is_group FROM user_conversations WHERE user_id = ? AND conv_key = ?')
  const pinC2c = db.prepare<{ user: string, key: string, peer: string, pinned: number }>(
    `INSERT INTO user_conversations (user_id, conv_key, is_group, peer, listed, pinned) VALUES (@user, @key, 0, @peer, 0, @pinned)
     ON CONFLICT (user_id, conv_key) DO UPDATE SET pinned = excluded.pinned`)
  const setPinned = db.prepare<{ user: string, key: string, pinned: number }>(
    'UPDATE user_conversations SET pinned = @pinned WHERE user_id = @user AND conv_key = @key')
  const hide = db.prepare<{ user: string, key: string, seq: number }>(
    `UPDATE user_conversations SET pinned = 0, listed = CASE WHEN is_group = 1 THEN listed ELSE 0 END,
       hidden_seq = CASE WHEN is_group = 1 THEN @seq ELSE hidden_seq END
     WHERE user_id = @user AND conv_key = @key`)

  const position = (row: { server_time: number, seq: number, id: number } | undefined): HistoryPosition | undefined =>
    row === undefined ? undefined : { serverTime: row.server_time, seq: row.seq, id: row.id }
  const point = (serverTime: number | null, seq: number | null, id: number | null): HistoryPosition | undefined =>
    serverTime === null || seq === null || id === null ? undefined : { serverTime, seq, id }

  /** The upper bound of the unread count, and the parameters that count its exceptions. */
  const counting = (user: string, r: Row): { bound: number, params: Counted } => {
    const bound = r.tally - r.floor - (r.sent - r.floor_sent)
    return { bound, params: { key: r.conv_key, user, floor: r.floor, aheadFrom: r.ahead_from, aheadTo: r.ahead_to, counted: bound > 0 ? 1 : 0 } }
  }
  const unreadOf = (bound: number, x: Exceptions): number => bound <= 0 ? 0 : bound - x.not_revoked - x.not_deleted - x.not_early
  const unread = (user: string, r: Row): number => {
    const { bound, params } = counting(user, r)
    return bound <= 0 ? 0 : unreadOf(bound, exceptions.get(params)!)
  }

  const entry = (user: string, r: Row): ConversationEntry => {
    const { bound, params } = counting(user, r)
    const d = details.get({ ...params, peer: r.peer })!
    return {
      convKey: r.conv_key,
      peer: r.peer,
      isGroup: r.is_group === 1,
      pinned: r.pinned === 1,
      activeTime: r.act,
      unread: unreadOf(bound, d),
      last: d.id === null ? undefined : rowToMessage(d as MessageRow), // a row, when it has an id
      read: point(d.r_time, d.r_seq, d.r_id),
      peerRead: r.peer === null ? undefined : point(d.p_time, d.p_seq, d.p_id),
    }
  }

  /** The user's side of a conversation it has no row of: a C2C thread with no message yet, a group it is not in. */
  const bare = (user: string, conv: ConvRef): Row => {
    const peer = conv.users === undefined ? null : conv.users[0] === user ? conv.users[1] : conv.users[0]
    const act = conv.users === undefined ? headActivity.get(conv.key)?.active_time ?? 0 : 0
    return { conv_key: conv.key, is_group: peer === null ? 1 : 0, peer, pinned: 0, act, floor: 0, floor_sent: 0, sent: 0, ahead_from: 0, ahead_to: 0, tally: 0 }
  }

  // A page reads with 2 + 20 statements, the total with one per conversation: in one read
  // transaction, not one each. Each statement outside a transaction takes and drops the
  // WAL read lock (fcntl, fstat): half of the time of a page of 20 went there.
  // One row more than asked says whether more follow, without its details.
  const page = db.transaction((user: string, at: typeof TOP, limit: number) => {
    const rows = [...c2cPage.all({ user, ...at, limit: limit + 1 }), ...groupPage.all({ user, ...at, limit: limit + 1 })].sort(byListOrder)
    return { entries: rows.slice(0, limit).map(r => entry(user, r)), more: rows.length > limit }
  })
  const total = db.transaction((user: string) => all.all(user).reduce((sum, r) => sum + unread(user, r), 0))

  return {
    async list (user, after, limit) {
      return page(user, after === undefined ? TOP : { p: after.pinned ? 1 : 0, t: after.activeTime, k: after.convKey }, limit)
    },
    async get (user, conv) {
      return entry(user, one.get(user, conv.key) ?? bare(user, conv))
    },
    async totalUnread (user) {
      return total(user)
    },
    async markAllRead (user) {
      await write(() => {
        for (const r of all.all(user)) {
          const to = position(newest.get(r.conv_key, user))
          if (to !== undefined) messages.moveRead(r.conv_key, user, to, r.is_group === 0)
        }
      })
    },
    async setPinned (user, conv, pinned) {
      return write(() => {
        if (conv.users === undefined || !pinned) return setPinned.run({ user, key: conv.key, pinned: pinned ? 1 : 0 }).changes > 0 || conv.users !== undefined
        pinC2c.run({ user, key: conv.key, peer: conv.users[0] === user ? conv.users[1] : conv.users[0], pinned: 1 })
        return true
      })
    },
    async remove (user, conv) {
      return write(() => {
        if (conv.users === undefined && exists.get(user, conv.key) === undefined) return false
        messages.clear(conv.key, user)
        hide.run({ user, key: conv.key, seq: seqs.head(conv.key).seq })
        return true
      })
    },
  }
}
