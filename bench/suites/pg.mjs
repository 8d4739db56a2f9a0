// The PostgreSQL suite (`npm run bench:pg`): the gateway on PostgreSQL at BENCH_PG_URL, in a
// fresh schema (DATABASE_URL's ?schema=), against the naive Fastify + pg server in another;
// both schemas are dropped at the end, whatever happens. Both pools have BENCH_POOL
// connections. The gateway runs with TIM_RATE_LIMIT=0 (no limiter), as this suite always
// has. Besides the driver's figures, each measured run counts the CPU time of the
// PostgreSQL backends of the server's pool (found by their client ports, so that other
// users of the same PostgreSQL are left out), after a CHECKPOINT (dirty pages of the
// previous run are not this run's cost); each scenario, the table reads and writes per
// request (pg_stat_user_tables of each schema).
import process from 'node:process'
import { setTimeout as sleep } from 'node:timers/promises'
import { URL } from 'node:url'
import { fmt } from '../lib/format.mjs'
import { clientPortsOf, cpuOf } from '../lib/proc.mjs'
import { pg as scenarios } from '../scenarios/index.mjs'

// PostgreSQL publishes a busy backend's table counters late (a second or more, and up to ten
// seconds after it goes idle): they are read around each scenario as a whole, after this
// much quiet, and divided by all the requests answered in between.
const SETTLE_MS = 11_500

/** Reads and writes of each table of a schema, as PostgreSQL counts them. */
async function tableStats (admin, schema) {
  const { rows } = await admin.query(`SELECT relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS scans, n_tup_ins AS ins, n_tup_upd AS upd
    FROM pg_stat_user_tables WHERE schemaname = $1`, [schema])
  return Object.fromEntries(rows.map(r => [r.relname, { scans: Number(r.scans), ins: Number(r.ins), upd: Number(r.upd) }]))
}

/** Per request: the counters' growth from `before` to `after`, divided by `answered`. */
function perRequest (before, after, answered) {
  const out = {}
  for (const [table, a] of Object.entries(after)) {
    const b = before[table] ?? { scans: 0, ins: 0, upd: 0 }
    const d = Object.fromEntries(['scans', 'ins', 'upd'].map(k => [k, Math.round((a[k] - b[k]) / answered * 100) / 100]).filter(([, v]) => v !== 0))
    if (Object.keys(d).length > 0) out[table] = d
  }
  return out
}
const accessText = (p) => Object.entries(p).map(([t, d]) => `${t} ${Object.entries(d).map(([k, v]) => `${v} ${k}`).join('/')}`).join(', ') || '-'

export default {
  name: 'pg',
  title: 'timgate PostgreSQL benchmark',
  defaults: { BENCH_LOG: '/dev/null' },
  scenarios,
  /** The admin pool, and the schemas handed out (dropped at the cleanup). */
  async setup (ctx) {
    const { default: pg } = await import('pg')
    const admin = new pg.Pool({ connectionString: ctx.knobs.pgUrl, max: 2 })
    admin.on('error', () => {})
    const suffix = `${process.pid}_${Date.now().toString(36)}`
    const schemas = new Map()
    ctx.pg = {
      admin,
      port: Number(new URL(ctx.knobs.pgUrl).port || 5432),
      /** The schema of server `name` (its log name), made up once. */
      schemaOf: (name) => schemas.get(name) ?? schemas.set(name, `bench_${name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${suffix}`).get(name),
    }
    ctx.onCleanup(async () => {
      for (const schema of schemas.values()) {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((err) => process.stderr.write(`could not drop ${schema}: ${err.message}\n`))
      }
      await admin.end()
    })
    const one = async (sql) => (await admin.query(sql)).rows[0]
    return {
      postgres: (await one('SHOW server_version')).server_version,
      database: (await one('SELECT current_database() AS d')).d,
      settings: Object.fromEntries((await admin.query(`SELECT name, setting FROM pg_settings
        WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'max_connections', 'wal_level')`)).rows.map(r => [r.name, r.setting])),
    }
  },
  gatewayEnv (ctx, name) {
    const url = new URL(ctx.knobs.pgUrl)
    url.searchParams.set('schema', ctx.pg.schemaOf(name))
    return { DATABASE_URL: url.toString(), TIM_PG_POOL_SIZE: String(ctx.knobs.pool), TIM_RATE_LIMIT: '0' }
  },
  servers: {
    gateway: (ctx) => ctx.startGateway('gateway'),
    naive: (ctx) => ctx.startBaseline('naive-pg', 'naive', {
      env: { BENCH_PG_URL: ctx.knobs.pgUrl, BENCH_SCHEMA: ctx.pg.schemaOf('naive'), BENCH_POOL: String(ctx.knobs.pool), BENCH_BASELINE_EXTRA_READS: String(ctx.knobs.baselineExtraReads) },
    }),
  },
  /** Around each measured run: the CPU time of the PostgreSQL backends of the server's pool. */
  probe: {
    async before (ctx, server) {
      await ctx.pg.admin.query('CHECKPOINT')
      await sleep(500)
      const ports = clientPortsOf(server.pid, ctx.pg.port)
      const backends = (await ctx.pg.admin.query('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])', [ports])).rows.map(r => r.pid)
      return { backends, cpu: backends.reduce((sum, pid) => sum + cpuOf(pid), 0) }
    },
    after: (ctx, server, { backends, cpu }, ok) => ({
      pgCpuUsPerRequest: (backends.reduce((sum, pid) => sum + cpuOf(pid), 0) - cpu) / Math.max(1, ok) * 1e6,
      pgBackends: backends.length,
    }),
  },
  columns: [{ head: 'pg µs/req', value: (r) => fmt(r.pgCpuUsPerRequest) }],
  /** Each scenario: the table reads and writes per answered request, on each schema. */
  async aroundScenario (ctx, scenario, run) {
    const servers = scenario.servers.map(n => ctx.servers[n])
    const snapshot = async () => Promise.all(servers.map(async s => ({ stats: await tableStats(ctx.pg.admin, ctx.pg.schemaOf(s.logName)), answered: ctx.answered[s.logName] ?? 0 })))
    await sleep(SETTLE_MS)
    const before = await snapshot()
    await run()
    await sleep(SETTLE_MS)
    const after = await snapshot()
    const access = Object.fromEntries(servers.map((s, i) => [s.name, perRequest(before[i].stats, after[i].stats, after[i].answered - before[i].answered)]))
    ;(ctx.output.tableAccessPerRequest ??= {})[scenario.name] = access
    ctx.footer.push(`${scenario.name} per request: ${Object.entries(access).map(([name, p]) => `${name}: ${accessText(p)}`).join('; ')}`)
  },
  async finish (ctx) {
    if (ctx.servers.gateway === undefined) return
    const count = async (table) => Number((await ctx.pg.admin.query(`SELECT count(*) AS n FROM ${ctx.pg.schemaOf('gateway')}.${table}`)).rows[0].n)
    ctx.output.gatewayRowsStored = await count('messages')
    ctx.output.gatewayConversations = await count('conversations')
  },
}
