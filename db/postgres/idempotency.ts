import type pg from 'pg'
import type { IdempotencyStore } from '../store.js'
import { run, statement, transaction } from './pool.js'

/** Idempotency-Keys on a pool: keyed by the caller, apart from the conversations. */
const sql = {
  forgetExpired: statement('forget_expired_key', 'DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND created_at < $3'),
  insert: statement('claim_key', `INSERT INTO idempotency_keys (owner, key, request_hash, created_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT DO NOTHING`),
  retake: statement('retake_key', `UPDATE idempotency_keys SET created_at = $1
    WHERE owner = $2 AND key = $3 AND request_hash = $4 AND status IS NULL AND created_at < $5`),
  get: statement('get_key', 'SELECT request_hash, created_at, status, body FROM idempotency_keys WHERE owner = $1 AND key = $2'),
  /** Records the response and the message ids it carries ($5), in one statement. */
  complete: statement('complete_key', `WITH k AS (
      UPDATE idempotency_keys SET status = $1, body = $2 WHERE owner = $3 AND key = $4 RETURNING owner, key)
    INSERT INTO idempotency_refs (msg_id, owner, key) SELECT m, k.owner, k.key FROM k, unnest($5::text[]) AS m
    ON CONFLICT DO NOTHING`),
  release: statement('release_key', 'DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2'),
  carrying: statement('keys_carrying', `SELECT k.owner, k.key, k.body FROM idempotency_refs r
    JOIN idempotency_keys k ON k.owner = r.owner AND k.key = r.key WHERE r.msg_id = $1`),
  /** Each body only where it is still what was read; answers the ones rewritten. */
  rewrite: statement('rewrite_keys', `UPDATE idempotency_keys AS k SET body = v.body
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS v(owner, key, body, was)
    WHERE k.owner = v.owner AND k.key = v.key AND k.body = v.was RETURNING k.owner, k.key`),
  sweep: statement('sweep_keys', 'DELETE FROM idempotency_keys WHERE created_at < $1'),
} as const

export function pgIdempotency (pool: pg.Pool): IdempotencyStore {
  return {
    async take ({ owner, key }, hash, now, { expiredBefore, staleBefore }) {
      return transaction(pool, async client => {
        await run(client, sql.forgetExpired, [owner, key, expiredBefore])
        if ((await run(client, sql.insert, [owner, key, hash, now])).rowCount === 1) return null
        if ((await run(client, sql.retake, [now, owner, key, hash, staleBefore])).rowCount === 1) return null
        const { rows: [row] } = await run<{ request_hash: string, created_at: number, status: number | null, body: string | null }>(
          client, sql.get, [owner, key])
        return { requestHash: row!.request_hash, createdAt: row!.created_at, status: row!.status, body: row!.body }
      })
    },
    async complete ({ owner, key }, status, body, msgIds) {
      await run(pool, sql.complete, [status, body, owner, key, msgIds])
    },
    async release ({ owner, key }) {
      await run(pool, sql.release, [owner, key])
    },
    async carrying (msgId) {
      return (await run<{ owner: string, key: string, body: string }>(pool, sql.carrying, [msgId])).rows
    },
    async rewrite (changes) {
      if (changes.length === 0) return []
      const { rows } = await run<{ owner: string, key: string }>(pool, sql.rewrite, [
        changes.map(c => c.owner), changes.map(c => c.key), changes.map(c => c.body), changes.map(c => c.was)])
      const id = (k: { owner: string, key: string }) => JSON.stringify([k.owner, k.key])
      const done = new Set(rows.map(id))
      return changes.filter(c => !done.has(id(c))).map(({ owner, key }) => ({ owner, key }))
    },
    async sweep (before) {
      return (await run(pool, sql.sweep, [before])).rowCount ?? 0
    },
  }
}
