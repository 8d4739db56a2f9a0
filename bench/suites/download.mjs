// The download suite (`npm run bench:download`): one large file (BENCH_BYTES, 1 GiB) from a
// local origin, one download at a time, BENCH_ROUNDS (3) rounds; the gateway on SQLite with
// TIM_MEDIA_MAX_BYTES twice the file, no rate limit, logging at warn.
import { MB } from '../lib/format.mjs'
import { download } from '../scenarios/index.mjs'
import { sqliteSetup, startGatewayOfOrigin, startOrigin, startProxy } from './shared.mjs'

export default {
  name: 'download',
  title: 'timgate download benchmark',
  defaults: { BENCH_ROUNDS: '3', BENCH_LOG_LEVEL: 'warn' },
  scenarios: download,
  setup: sqliteSetup,
  gatewayEnv: (ctx) => ({ DATABASE_URL: undefined, TIM_RATE_LIMIT: '0', TIM_MEDIA_MAX_BYTES: String(2 * ctx.knobs.bytes) }),
  servers: {
    origin: (ctx) => startOrigin(ctx, ctx.knobs.bytes, { BENCH_ORIGIN_CHUNK: String(MB) }),
    proxy: startProxy,
    gateway: startGatewayOfOrigin,
  },
}
