import fp from 'fastify-plugin'
import { join } from 'node:path'
import type { Store } from '../../db/store.js'
import { openSqliteStore } from '../../db/sqlite/sqlite-store.js'
import { openPgStore } from '../../db/postgres/pg-store.js'
import { databaseUrlError } from '../config.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
  }
}

export interface StoreOptions {
  dataDir: string
  /** postgres://…: the PostgreSQL store instead of SQLite under the data dir. */
  databaseUrl?: string | undefined
  /** Connections of the PostgreSQL pool. */
  pgPoolSize?: number
  /** SQLite's synchronous setting (TIM_SQLITE_SYNC). */
  sqliteSync?: 'NORMAL' | 'FULL'
  /** Unix seconds now. */
  now?: () => number
}

/** The PostgreSQL store, or the one line naming DATABASE_URL that stops start-up. */
async function openPg (url: string, poolSize: number | undefined, now: (() => number) | undefined): Promise<Store> {
  try {
    return await openPgStore(url, { ...(poolSize !== undefined && { poolSize }), ...(now !== undefined && { now }) })
  } catch (err) {
    throw databaseUrlError(url, err)
  }
}

/** Opens the store (PostgreSQL at the URL, else SQLite under the data dir); closes it with the app. */
export default fp<StoreOptions>(async (app, opts) => {
  const store = opts.databaseUrl !== undefined
    ? await openPg(opts.databaseUrl, opts.pgPoolSize, opts.now)
    : openSqliteStore(join(opts.dataDir, 'timgate.db'), {
      ...(opts.sqliteSync !== undefined && { synchronous: opts.sqliteSync }),
      ...(opts.now !== undefined && { now: opts.now }),
    })
  app.decorate('store', store)
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'timgate-store' })
