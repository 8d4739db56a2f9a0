// The SQLite suite (`npm run bench`): the gateway on SQLite, the default store, against the
// naive Fastify + better-sqlite3 server and the other baselines.
import { join } from 'node:path'
import { sqlite } from '../scenarios/index.mjs'
import { sqliteSetup, startGatewayOfOrigin, startOrigin, startProxy } from './shared.mjs'

export default {
  name: 'sqlite',
  title: 'timgate benchmark',
  scenarios: sqlite,
  setup: sqliteSetup,
  /** SQLite (the default) in TIM_DATA_DIR. */
  gatewayEnv: () => ({ DATABASE_URL: undefined }),
  /** The shared servers, started in this order when a selected scenario needs them. */
  servers: {
    origin: (ctx) => startOrigin(ctx, ctx.knobs.downloadBytes),
    proxy: startProxy,
    gateway: startGatewayOfOrigin,
    naive: (ctx) => ctx.startBaseline('naive-sqlite', 'naive', { env: { BENCH_NAIVE_DB: join(ctx.dir, 'naive.db') } }),
    bare: (ctx) => ctx.startBaseline('bare', 'bare'),
  },
}
