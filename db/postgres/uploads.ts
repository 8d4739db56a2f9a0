import type pg from 'pg'
import type { UploadStore } from '../store.js'
import { rowToUpload, type UploadRow } from '../rows.js'
import { run, statement } from './pool.js'

const sql = {
  insert: statement('insert_upload', `INSERT INTO uploads (id, owner, sha256, size, content_type, object_key, created)
    VALUES ($1, $2, $3, $4, $5, $6, $7)`),
  get: statement('get_upload', 'SELECT id, owner, sha256, size, content_type, object_key, created FROM uploads WHERE id = $1'),
} as const

/** Upload records on a pool: one statement each, no transaction needed. */
export function pgUploads (pool: pg.Pool): UploadStore {
  return {
    async insert (u) {
      await run(pool, sql.insert, [u.id, u.owner, u.sha256, u.size, u.contentType, u.objectKey, u.created])
    },
    async get (id) {
      const { rows: [row] } = await run<UploadRow>(pool, sql.get, [id])
      return row === undefined ? undefined : rowToUpload(row)
    },
  }
}
