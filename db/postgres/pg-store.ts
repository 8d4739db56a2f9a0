import pg from 'pg'
import { fileURLToPath } from 'node:url'
import type { Store } from '../store.js'
import { migrate } from './migrate.js'
import { pgClientConfig } from './pool.js'
import { pgMessages } from './messages.js'
import { pgGroups } from './groups.js'
import { pgIdempotency } from './idempotency.js'

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url))

export interface PgStoreOptions {
  /** Connections of this replica's pool (default 10). */
  poolSize?: number
  /** How long opening waits for the server to answer (default CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number
  /** Where the tables live (created if missing); else the URL's `?schema=`, else the server's search_path. */
  schema?: string
}

/** Opening the store gives up on a server that has not answered within this. */
export const CONNECT_TIMEOUT_MS = 5000

/**
 * Opens the PostgreSQL store at `url` (postgres://…, optionally `?schema=name`): a pool
 * of its own, the migrations applied (once across replicas), every statement named so
 * that each connection prepares it once.
 */
export async function openPgStore (url: string, options: PgStoreOptions = {}): Promise<Store> {
  const { schema, ...config } = pgClientConfig(url, options.schema)
  // One connection with a time limit first, so that an unreachable server fails the
  // opening soon. Not on the pool: there the limit would also fail requests that wait
  // for a connection of a busy pool.
  const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS
  const probe = new pg.Client({ ...config, connectionTimeoutMillis: timeoutMs })
  await probe.connect().catch((err: Error) => {
    if (!/timeout/i.test(err.message)) throw err
    throw Object.assign(new Error(`no answer within ${timeoutMs} ms`, { cause: err }), { code: 'ETIMEDOUT' })
  })
  await probe.end()
  const pool = new pg.Pool({ ...config, max: options.poolSize ?? 10 })
  // An idle connection that dies (a server restart) is dropped by the pool; the next
  // query reports the failure to its request. Without a listener it would end the process.
  pool.on('error', () => {})
  try {
    await migrate(pool, MIGRATIONS, schema)
  } catch (err) {
    await pool.end()
    throw err
  }
  let closed = false
  return {
    kind: 'postgres',
    messages: pgMessages(pool),
    groups: pgGroups(pool),
    idempotency: pgIdempotency(pool),
    async ping () {
      await pool.query('SELECT 1')
    },
    async close () {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}
