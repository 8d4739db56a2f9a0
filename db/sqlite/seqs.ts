import type { Database } from 'better-sqlite3'
import type { ConvRef } from '../store.js'

export interface Seqs {
  /**
   * The next seq of a conversation, and the server time a sent message gets: never below
   * the last sent one's, so that (time, seq) keeps commit order. An import keeps its own
   * time (null here) and leaves the conversation's last time as it is.
   */
  next (conv: ConvRef, time: number | null): { seq: number, time: number }
  /** Runs a write with the counting below, writing the counts back before it returns. */
  within<T> (run: () => T): T
}

/**
 * Seqs handed out by the running write: a conversation's row is upserted for its first
 * message and counted in memory for the rest (a 1000-message import: one upsert, not
 * 1000), then written back by `within` before the write's transaction commits. The store
 * runs every write inside `within`, so that any write may insert messages.
 */
export function seqCounter (db: Database): Seqs {
  const upsert = db.prepare<{ key: string, time: number | null, a: string | null, b: string | null }, { last_seq: number, last_time: number }>(
    `INSERT INTO conversations (conv_key, last_seq, last_time, user_a, user_b) VALUES (@key, 1, coalesce(@time, 0), @a, @b)
     ON CONFLICT (conv_key) DO UPDATE SET last_seq = last_seq + 1, last_time = max(last_time, coalesce(@time, last_time))
     RETURNING last_seq, last_time`)
  const setSeq = db.prepare<[number, number, string]>('UPDATE conversations SET last_seq = ?, last_time = ? WHERE conv_key = ?')
  const counted = new Map<string, { seq: number, time: number, dirty: boolean }>()

  return {
    next (conv, time) {
      const c = counted.get(conv.key)
      if (c === undefined) {
        const row = upsert.get({ key: conv.key, time, a: conv.users?.[0] ?? null, b: conv.users?.[1] ?? null })!
        counted.set(conv.key, { seq: row.last_seq, time: row.last_time, dirty: false })
        return { seq: row.last_seq, time: row.last_time }
      }
      c.seq += 1
      if (time !== null) c.time = Math.max(c.time, time)
      c.dirty = true
      return { seq: c.seq, time: c.time }
    },
    within (run) {
      counted.clear()
      const result = run()
      for (const [key, c] of counted) if (c.dirty) setSeq.run(c.seq, c.time, key)
      counted.clear()
      return result
    },
  }
}
