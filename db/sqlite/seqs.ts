import type { Database } from 'better-sqlite3'
import type { ConvRef } from '../store.js'

/** What a stored message changes in one user's row of the conversation list (user_conversations). */
export interface RowChange {
  /** A C2C row is created when missing and listed again; a group row (the user is a member) only updated. */
  group: boolean
  /** C2C: the other user. */
  peer: string | null
  /** Its activity reaches this server time (0: unchanged). */
  time: number
  /** Countable messages the user sent. */
  sent: number
  /** A group row deleted by the user comes back (its own saved message). */
  unhide: boolean
}

export interface Seqs {
  /**
   * The next seq of a conversation, the server time a sent message gets (never below the
   * last sent one's, so that (time, seq) keeps commit order) and the conversation's tally
   * with it (`countable`: a sent message counts). An import keeps its own time (`time`
   * null, its time `at`) and leaves the conversation's last time as it is.
   */
  next (conv: ConvRef, time: number | null, at: number, countable: boolean): { seq: number, time: number, tally: number }
  /** Takes back the seq that `next` handed out last for an import (not stored: it met its twin). */
  giveBack (convKey: string): void
  /** The conversation's last seq, last time and tally as this write sees them (zeros: no message yet). */
  head (convKey: string): { seq: number, time: number, tally: number }
  /** Records a change of one user's row, written when the write ends. */
  touch (userId: string, convKey: string, change: RowChange): void
  /** Runs a write with the counting below, writing the counts back before it returns. */
  within<T> (run: () => T): T
}

/**
 * Seqs handed out by the running write: a conversation's row is upserted for its first
 * message and counted in memory for the rest (a 1000-message import: one upsert, not
 * 1000), then written back by `within` before the write's transaction commits; the users'
 * rows of the conversation list likewise (one upsert per user and conversation). The store
 * runs every write inside `within`, so that any write may insert messages.
 */
export function seqCounter (db: Database): Seqs {
  // Positional parameters in the statements every message runs: binding by name costs
  // ~0.5 µs a call more (an object made and its keys looked up). An import's time (null)
  // is 0 in `excluded`, which leaves last_time as it is (times are never negative).
  const upsert = db.prepare<[string, number | null, string | null, string | null, number, number], { last_seq: number, last_time: number, tally: number }>(
    `INSERT INTO conversations (conv_key, last_seq, last_time, user_a, user_b, tally, active_time) VALUES (?, 1, coalesce(?, 0), ?, ?, ?, ?)
     ON CONFLICT (conv_key) DO UPDATE SET last_seq = last_seq + 1, last_time = max(last_time, excluded.last_time),
       tally = tally + excluded.tally, active_time = max(active_time, excluded.active_time)
     RETURNING last_seq, last_time, tally`)
  const setSeq = db.prepare<[number, number, number, number, string]>('UPDATE conversations SET last_seq = ?, last_time = ?, tally = ?, active_time = max(active_time, ?) WHERE conv_key = ?')
  const readHead = db.prepare<[string], { last_seq: number, last_time: number, tally: number }>('SELECT last_seq, last_time, tally FROM conversations WHERE conv_key = ?')
  const upsertC2c = db.prepare<[string, string, string | null, number, number]>(
    `INSERT INTO user_conversations (user_id, conv_key, is_group, peer, listed, active_time, sent) VALUES (?, ?, 0, ?, 1, ?, ?)
     ON CONFLICT (user_id, conv_key) DO UPDATE SET listed = 1, active_time = max(active_time, excluded.active_time), sent = sent + excluded.sent`)
  const updateGroup = db.prepare<[number, number, number, string, string]>(
    `UPDATE user_conversations SET active_time = max(active_time, ?), sent = sent + ?,
       hidden_seq = CASE WHEN ? = 1 THEN NULL ELSE hidden_seq END
     WHERE user_id = ? AND conv_key = ?`)
  const counted = new Map<string, { seq: number, time: number, tally: number, active: number, dirty: boolean }>()
  // By conversation, then user: no key string made per message.
  const rows = new Map<string, Map<string, RowChange>>()

  return {
    next (conv, time, at, countable) {
      const n = countable ? 1 : 0
      const c = counted.get(conv.key)
      if (c === undefined) {
        const row = upsert.get(conv.key, time, conv.users?.[0] ?? null, conv.users?.[1] ?? null, n, at)!
        counted.set(conv.key, { seq: row.last_seq, time: row.last_time, tally: row.tally, active: 0, dirty: false })
        return { seq: row.last_seq, time: row.last_time, tally: row.tally }
      }
      c.seq += 1
      if (time !== null) c.time = Math.max(c.time, time)
      c.tally += n
      c.active = Math.max(c.active, at)
      c.dirty = true
      return { seq: c.seq, time: c.time, tally: c.tally }
    },
    giveBack (convKey) {
      const c = counted.get(convKey)!
      c.seq -= 1
      c.dirty = true
    },
    head (convKey) {
      const c = counted.get(convKey)
      if (c !== undefined) return { seq: c.seq, time: c.time, tally: c.tally }
      const row = readHead.get(convKey)
      return { seq: row?.last_seq ?? 0, time: row?.last_time ?? 0, tally: row?.tally ?? 0 }
    },
    touch (user, key, change) {
      let users = rows.get(key)
      if (users === undefined) rows.set(key, users = new Map())
      const was = users.get(user)
      if (was === undefined) return void users.set(user, { ...change })
      was.time = Math.max(was.time, change.time)
      was.sent += change.sent
      was.unhide ||= change.unhide
    },
    within (run) {
      counted.clear()
      rows.clear()
      const result = run()
      for (const [key, c] of counted) if (c.dirty) setSeq.run(c.seq, c.time, c.tally, c.active, key)
      // In key order, as PostgreSQL locks them (the same rows, the same order everywhere).
      for (const key of [...rows.keys()].sort()) {
        const users = rows.get(key)!
        for (const user of [...users.keys()].sort()) {
          const change = users.get(user)!
          if (change.group) updateGroup.run(change.time, change.sent, change.unhide ? 1 : 0, user, key)
          else upsertC2c.run(user, key, change.peer, change.time, change.sent)
        }
      }
      counted.clear()
      rows.clear()
      return result
    },
  }
}
