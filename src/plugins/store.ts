import fp from 'fastify-plugin'
import { join } from 'node:path'
import type { Store } from '../../db/store.js'
import { openSqliteStore } from '../../db/sqlite/sqlite-store.js'
import { MessageService } from '../messages/service.js'
import { GroupService } from '../groups/service.js'

declare module 'fastify' {
  interface FastifyInstance {
    store: Store
    messages: MessageService
    groups: GroupService
  }
}

export interface StoreOptions {
  dataDir: string
  revokeWindowS: number
  /** Unix seconds now, for tests of time rules. */
  now?: () => number
  onStored?: (count: number) => void
}

/** Opens the SQLite store under the data dir and the services over it; closes it with the app. */
export default fp<StoreOptions>(async (app, opts) => {
  const store = openSqliteStore(join(opts.dataDir, 'timgate.db'))
  app.decorate('store', store)
  const messages = new MessageService({
    store,
    revokeWindowS: opts.revokeWindowS,
    ...(opts.now !== undefined && { now: opts.now }),
    ...(opts.onStored !== undefined && { onStored: opts.onStored }),
  })
  app.decorate('messages', messages)
  app.decorate('groups', new GroupService(store, messages))
  app.addHook('onClose', async () => { await store.close() })
}, { name: 'timgate-store' })
