import fp from 'fastify-plugin'
import { join } from 'node:path'
import type { Store } from '../../db/store.js'
import { openSqliteStore } from '../../db/sqlite/sqlite-store.js'
import { MessageService } from '../messages/service.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
    messages: MessageService
  }
}

export interface StoreOptions {
  dataDir: string
  /** Unix seconds now, for tests of time rules. */
  now?: () => number
  onStored?: (count: number) => void
}

/** Opens the SQLite store under the data dir and the message service over it; closes both with the app. */
export default fp<StoreOptions>(async (app, opts) => {
  const store = openSqliteStore(join(opts.dataDir, 'timgate.db'))
  app.decorate('store', store)
  app.decorate('messages', new MessageService({
    store,
    ...(opts.now !== undefined && { now: opts.now }),
    ...(opts.onStored !== undefined && { onStored: opts.onStored }),
  }))
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'timgate-store' })
