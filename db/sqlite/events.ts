import type { Database } from 'better-sqlite3'
import { EventType, type EventStore } from '../store.js'
import { rowToEvent, type EventRow } from '../rows.js'

/** How many events a sweep deletes in one write: a sweep must not hold the writer long. */
const SWEEP_BATCH = 2000

/** The log's writing side, for the other modules of this adapter (inside their write). */
export interface EventAppender {
  /** Appends an event; its position. */
  append (type: EventType, convKey: string, messageId: number | null, at: number, actor?: string | null, role?: number | null): number
  /** Records a group membership change as a membership event and in the history. */
  membership (convKey: string, userId: string, role: number | null, at: number): void
  /** After every commit: tells the subscribers when events were appended. */
  committed (): void
}

/**
 * The event log on one SQLite connection. Its id is the position: one connection writes,
 * so ids increase in commit order.
 */
export function sqliteEvents (db: Database, write: <T>(run: () => T) => Promise<T>): { store: EventStore, appender: EventAppender } {
  const append = db.prepare<unknown[], { id: number }>('INSERT INTO events (type, conv_key, message_id, actor, role, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id')
  const openHistory = db.prepare('INSERT INTO group_member_history (conv_key, user_id, from_event) VALUES (?, ?, ?)')
  const closeHistory = db.prepare('UPDATE group_member_history SET to_event = ? WHERE conv_key = ? AND user_id = ? AND to_event IS NULL')
  const isMember = db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM group_member_history WHERE conv_key = ? AND user_id = ? AND to_event IS NULL')
  const select = 'SELECT e.id AS pos, e.type, e.conv_key, c.user_a, c.user_b, e.message_id, e.actor, e.role, e.at FROM events e LEFT JOIN conversations c ON c.conv_key = e.conv_key'
  const read = db.prepare<[number, number], EventRow>(`${select} WHERE e.id > ? ORDER BY e.id LIMIT ?`)
  // A C2C event of one of its users, or a group event while the user was a member: from
  // its joining event to its leaving one, both included (a kick's tips reach the kicked).
  const readFor = db.prepare<{ user: string, after: number, limit: number }, EventRow>(`${select} WHERE e.id > @after AND e.type != ${EventType.Membership}
    AND (c.user_a = @user OR c.user_b = @user OR (c.user_a IS NULL AND EXISTS (SELECT 1 FROM group_member_history h
      WHERE h.conv_key = e.conv_key AND h.user_id = @user AND h.from_event <= e.id AND (h.to_event IS NULL OR h.to_event >= e.id))))
    ORDER BY e.id LIMIT @limit`)
  // The newest position ever given (sweeps do not move it back), and the oldest kept.
  const bounds = db.prepare<[], { oldest: number | null, newest: number | null }>(
    "SELECT (SELECT min(id) FROM events) AS oldest, (SELECT seq FROM sqlite_sequence WHERE name = 'events') AS newest")
  const membersAt = db.prepare<[string, number, number], { user_id: string }>(
    'SELECT user_id FROM group_member_history WHERE conv_key = ? AND from_event <= ? AND (to_event IS NULL OR to_event >= ?)')
  // Events a webhook has yet to be fed stay (CONTRACT §8: owed deliveries outlive the retention).
  const sweep = db.prepare<[number, number]>(`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ?
    AND id <= (SELECT coalesce(min(cursor), ${Number.MAX_SAFE_INTEGER}) FROM webhooks) ORDER BY id LIMIT ?)`)
  // A history row whose end has left the log says nothing about what is kept.
  const sweepHistory = db.prepare('DELETE FROM group_member_history WHERE to_event < (SELECT coalesce(min(id), 0) FROM events)')

  const listeners = new Set<() => void>()
  let appended = 0

  const appender: EventAppender = {
    append (type, convKey, messageId, at, actor = null, role = null) {
      appended++
      return append.get(type, convKey, messageId, actor, role, at)!.id
    },
    membership (convKey, userId, role, at) {
      const wasMember = isMember.get(convKey, userId) !== undefined
      const id = appender.append(EventType.Membership, convKey, null, at, userId, role)
      if (role === null) closeHistory.run(id, convKey, userId)
      else if (!wasMember) openHistory.run(convKey, userId, id)
    },
    committed () {
      if (appended === 0) return
      appended = 0
      for (const listener of listeners) listener()
    },
  }

  const store: EventStore = {
    async read (after, limit) {
      return read.all(after, limit).map(rowToEvent)
    },
    async readFor (user, after, limit) {
      return readFor.all({ user, after, limit }).map(rowToEvent)
    },
    async bounds () {
      const b = bounds.get()!
      return { oldest: b.oldest ?? undefined, newest: b.newest ?? 0 }
    },
    async settle () {
      return (await store.bounds()).newest
    },
    async membersAt (convKey, pos) {
      return membersAt.all(convKey, pos, pos).map(r => r.user_id)
    },
    async sweep (before) {
      return write(() => {
        const n = sweep.run(before, SWEEP_BATCH).changes
        if (n > 0) sweepHistory.run()
        return n
      })
    },
    subscribe (listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  return { store, appender }
}
