import type { Database } from 'better-sqlite3'
import type { UploadStore } from '../store.js'
import { rowToUpload, type UploadRow } from '../rows.js'
import type { Write } from './group-commit.js'

/** Upload records on the one SQLite connection. */
export function sqliteUploads (db: Database, write: Write): UploadStore {
  const insert = db.prepare<[string, string, string, number, string, string, number]>(
    'INSERT INTO uploads (id, owner, sha256, size, content_type, object_key, created) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const get = db.prepare<[string], UploadRow>('SELECT id, owner, sha256, size, content_type, object_key, created FROM uploads WHERE id = ?')
  return {
    async insert (u) {
      await write(() => insert.run(u.id, u.owner, u.sha256, u.size, u.contentType, u.objectKey, u.created))
    },
    async get (id) {
      const row = get.get(id)
      return row === undefined ? undefined : rowToUpload(row)
    },
  }
}
