import type Database from 'better-sqlite3'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Applies the numbered SQL files of `dir` (NNN-name.sql) that the database has not
 * seen, in order, each in its own transaction, and records them. Forward only. A
 * migration that needs code (an index computed from the stored messages) has a step in
 * `steps`, run after its SQL in the same transaction.
 */
export function migrate (db: Database.Database, dir: string, steps: Readonly<Record<number, () => void>> = {}): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)')
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[])
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
  const files = readdirSync(dir).filter(f => /^\d+-.+\.sql$/.test(f)).sort()
  for (const file of files) {
    const version = Number.parseInt(file, 10)
    if (applied.has(version)) continue
    const sql = readFileSync(join(dir, file), 'utf8')
    try {
      db.transaction(() => {
        db.exec(sql)
        steps[version]?.()
        record.run(version, file, Date.now())
      })()
    } catch (err) {
      throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err })
    }
  }
}
