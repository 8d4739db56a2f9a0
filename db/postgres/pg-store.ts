import pg from 'pg'
import { fileURLToPath } from 'node:url'
import type { Store } from '../store.js'
import { migrate } from './migrate.js'
import { pgClientConfig, run, statement } from './pool.js'
import { pgMessages } from './messages.js'
import { pgGroups } from './groups.js'
import { pgIdempotency } from './idempotency.js'
import { pgEvents } from './events.js'
import { pgWebhooks } from './webhooks.js'
import { pgConversations } from './conversations.js'
import { backfill, pgSearch } from './search.js'
import { pgUploads } from './uploads.js'

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url))
const PROBE = statement('probe', 'INSERT INTO probes (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at')

export interface PgStoreOptions {
  /** Connections of this replica's pool (default 10). */
  poolSize?: number
  /** How long opening waits for the server to answer (default CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number
  /** Where the tables live (created if missing); else the URL's `?schema=`, else the server's search_path. */
  schema?: string
  /** Unix seconds now (events' times). */
  now?: () => number
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
  const poolSize = options.poolSize ?? 10
  const pool = new pg.Pool({ ...config, max: poolSize })
  // An idle connection that dies (a server restart) is dropped by the pool; the next
  // query reports the failure to its request. Without a listener it would end the process.
  pool.on('error', () => {})
  try {
    // 012-search indexes the history stored before it.
    await migrate(pool, MIGRATIONS, schema, { 12: backfill })
  } catch (err) {
    await pool.end()
    throw err
  }
  const now = options.now ?? (() => Math.floor(Date.now() / 1000))
  let events
  try {
    events = await pgEvents(pool, config, schema)
  } catch (err) {
    await pool.end()
    throw err
  }
  let closed = false
  return {
    kind: 'postgres',
    messages: pgMessages(pool, poolSize, events.appender, now),
    groups: pgGroups(pool, events.appender, now),
    idempotency: pgIdempotency(pool),
    events: events.store,
    webhooks: pgWebhooks(pool),
    conversations: pgConversations(pool, events.appender.committed, now),
    search: pgSearch(pool),
    uploads: pgUploads(pool),
    async ping () {
      await pool.query('SELECT 1')
    },
    async probe () {
      await run(pool, PROBE, [Date.now()])
    },
    async close () {
      if (closed) return
      closed = true
      await events.close()
      await pool.end()
    },
  }
}
