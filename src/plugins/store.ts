import fp from 'fastify-plugin'
import { join } from 'node:path'
import type { Store } from '../../db/store.js'
import { openSqliteStore } from '../../db/sqlite/sqlite-store.js'
import { openPgStore } from '../../db/postgres/pg-store.js'
import { MessageService } from '../messages/service.js'
import { GroupService } from '../groups/service.js'
import { MediaStore } from '../media/store.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
    messages: MessageService
    groups: GroupService
    /** Uploaded media under <dataDir>/media (POST /media). */
    media: MediaStore
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
  revokeWindowS: number
  /** TIM_MEDIA_MAX_BYTES: the largest upload that is not an image or a sound. */
  mediaMaxBytes: number
  /** Unix seconds now, for tests of time rules. */
  now?: () => number
  onStored?: (count: number) => void
}

/** Opens the store (PostgreSQL at the URL, else SQLite under the data dir) and the services over it; closes it with the app. */
export default fp<StoreOptions>(async (app, opts) => {
  const store = opts.databaseUrl !== undefined
    ? await openPgStore(opts.databaseUrl, { poolSize: opts.pgPoolSize })
    : openSqliteStore(join(opts.dataDir, 'timgate.db'), { ...(opts.sqliteSync !== undefined && { synchronous: opts.sqliteSync }) })
  app.decorate('store', store)
  const media = new MediaStore(join(opts.dataDir, 'media'), opts.mediaMaxBytes)
  app.decorate('media', media)
  const messages = new MessageService({
    store,
    media,
    revokeWindowS: opts.revokeWindowS,
    ...(opts.now !== undefined && { now: opts.now }),
    ...(opts.onStored !== undefined && { onStored: opts.onStored }),
  })
  app.decorate('messages', messages)
  app.decorate('groups', new GroupService(store, messages))
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'timgate-store' })
