import type pg from 'pg'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The first key of the advisory lock; the second is the schema's name hashed. */
const LOCK = 0x74696d67 // 'timg'

/**
 * Applies the numbered SQL files of `dir` (NNN-name.sql) that the database has not seen,
 * in order, each in its own transaction, and records them in schema_migrations. Forward
 * only. Every transaction first takes a transaction-scoped advisory lock, so replicas
 * starting together apply each file once: the others wait, then find it recorded. A
 * migration that needs code (an index computed from the stored messages) has a step in
 * `steps`, run after its SQL in the same transaction.
 */
export async function migrate (pool: pg.Pool, dir: string, schema: string | undefined,
  steps: Readonly<Record<number, (client: pg.ClientBase) => Promise<void>>> = {}): Promise<void> {
  const files = readdirSync(dir).filter(f => /^\d+-.+\.sql$/.test(f)).sort()
  const client = await pool.connect()
  let broken: Error | undefined
  const locked = async <T>(fn: () => Promise<T>): Promise<T> => {
    await client.query('BEGIN')
    try {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext(coalesce($2::text, current_schema(), \'\')))', [LOCK, schema ?? null])
      const out = await fn()
      await client.query('COMMIT')
      return out
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => { broken = e })
      throw err
    }
  }
  try {
    await locked(async () => {
      if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)')
    })
    for (const file of files) {
      const version = Number.parseInt(file, 10)
      const sql = readFileSync(join(dir, file), 'utf8')
      try {
        await locked(async () => {
          const seen = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [version])
          if (seen.rowCount !== 0) return
          await client.query(sql)
          await steps[version]?.(client)
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [version, file, Date.now()])
        })
      } catch (err) {
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err })
      }
    }
  } finally {
    client.release(broken)
  }
}
