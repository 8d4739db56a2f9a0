import type { Database } from 'better-sqlite3'
import type { IdempotencyStore, KeyRecord } from '../store.js'
import type { Write } from './group-commit.js'

/** Idempotency-Keys on one SQLite connection. */
export function sqliteIdempotency (db: Database, write: Write): IdempotencyStore {
  const forgetExpired = db.prepare('DELETE FROM idempotency_keys WHERE owner = ? AND key = ? AND created_at < ?')
  const insert = db.prepare('INSERT INTO idempotency_keys (owner, key, request_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
  const retake = db.prepare<[number, string, string, string, number]>(
    'UPDATE idempotency_keys SET created_at = ? WHERE owner = ? AND key = ? AND request_hash = ? AND status IS NULL AND created_at < ?')
  const get = db.prepare<[string, string], { request_hash: string, created_at: number, status: number | null, body: string | null }>(
    'SELECT request_hash, created_at, status, body FROM idempotency_keys WHERE owner = ? AND key = ?')
  const complete = db.prepare('UPDATE idempotency_keys SET status = ?, body = ? WHERE owner = ? AND key = ?')
  const insertRef = db.prepare<[string, string, string]>('INSERT OR IGNORE INTO idempotency_refs (msg_id, owner, key) VALUES (?, ?, ?)')
  const release = db.prepare('DELETE FROM idempotency_keys WHERE owner = ? AND key = ?')
  const carrying = db.prepare<[string], { owner: string, key: string, body: string }>(
    'SELECT k.owner, k.key, k.body FROM idempotency_refs r JOIN idempotency_keys k ON k.owner = r.owner AND k.key = r.key WHERE r.msg_id = ?')
  const rewrite = db.prepare('UPDATE idempotency_keys SET body = ? WHERE owner = ? AND key = ? AND body = ?')
  const sweep = db.prepare('DELETE FROM idempotency_keys WHERE created_at < ?')

  return {
    async take ({ owner, key }, hash, now, { expiredBefore, staleBefore }) {
      return write((): KeyRecord | null => {
        forgetExpired.run(owner, key, expiredBefore)
        if (insert.run(owner, key, hash, now).changes === 1) return null
        if (retake.run(now, owner, key, hash, staleBefore).changes === 1) return null
        const row = get.get(owner, key)!
        return { requestHash: row.request_hash, createdAt: row.created_at, status: row.status, body: row.body }
      })
    },
    async complete ({ owner, key }, status, body, msgIds) {
      await write(() => {
        complete.run(status, body, owner, key)
        for (const msgId of msgIds) insertRef.run(msgId, owner, key)
      })
    },
    async release ({ owner, key }) {
      await write(() => release.run(owner, key))
    },
    async carrying (msgId) {
      return carrying.all(msgId)
    },
    async rewrite (changes) {
      if (changes.length === 0) return []
      return write(() => changes.filter(c => rewrite.run(c.body, c.owner, c.key, c.was).changes === 0).map(({ owner, key }) => ({ owner, key })))
    },
    async sweep (before) {
      return write(() => sweep.run(before).changes)
    },
  }
}
