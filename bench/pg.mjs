// PostgreSQL benchmark (issue 7 item 5, with the rules of issue 6): never part of `npm test`.
// Run with `npm run bench:pg` (it builds first); PostgreSQL must be at BENCH_PG_URL
// (default postgres://postgres@127.0.0.1:5432/test).
//
// In one run, on loopback, each server in a child process of its own:
//   baseline  a tiny Fastify 5 server with a JSON body schema that does ONE
//             `INSERT INTO bench_messages … RETURNING id` per send, and one
//             `SELECT … ORDER BY … LIMIT 20` on an equivalent indexed table per history
//             page, through a pg.Pool of the gateway's size, logging at the gateway's level;
//   gateway   `node dist/src/server.js` as `npm start` runs it, DATABASE_URL on a fresh
//             schema, TIM_RATE_LIMIT=0, the same log level and destination.
// Load comes from autocannon in a third process (its programmatic API, so that each request
// picks one of BENCH_CONVERSATIONS peers at random: 100 connections walking one fixed list
// would queue on the same conversation locks). Each run is BENCH_WARMUP seconds unmeasured,
// then BENCH_DURATION seconds measured; BENCH_ROUNDS rounds (default 1) alternate which server
// goes first, and the median run of each is reported.
//
// Scenarios: send (POST /conversations/c2c_<peer>/messages, one text element, spread over
// 1000 conversations) and history (GET /conversations/c2c_hist/messages?count=20 on a
// conversation of BENCH_HISTORY_ROWS messages). Each reports req/s, p50/p99, peak RSS, CPU
// time per request in the server process (and its kernel share) and in the PostgreSQL
// backends of that server's pool (found by their client ports, so that other users of the
// same PostgreSQL are left out), table reads/writes per request (pg_stat_user_tables of its
// schema), and the ratio gateway/baseline. Target: send ≥ 0.8×. One table is printed;
// bench/results/pg-<ISO date>.json is written. The schemas it made are dropped and its
// children stopped at the end, whatever happened.
//
// Throughput is bounded by the machine's CPU (server, PostgreSQL and load generator share
// it), so the CPU columns say where a difference comes from; other work on the machine moves
// the absolute numbers, which is why only the ratio within one run counts.
//
// BENCH_CPU_PROF=1 runs both servers under `node --cpu-prof` and prints where their CPU time
// went, side by side: by owner (node core and native code, such as the writev of a socket,
// charged to the package or file that called it), by area and by function. Combine with
// BENCH_SCENARIOS=send. The profiler slows both: its numbers are for attribution only.
// BENCH_BASELINE_EXTRA_READS=2 (diagnostic) gives the baseline's send the gateway's two
// extra point reads, to show what those round trips cost.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { setTimeout as sleep } from 'node:timers/promises'
import { URL } from 'node:url'
import { fetch } from 'undici'
import { clientPortsOf, cpuOf, cpuTimes, fmt, freePort, machineCpu, median, memory, MESSAGE_SCHEMA, stop, waitFor } from './lib.mjs'

const env = process.env
const PG_URL = env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const DURATION = Number(env.BENCH_DURATION ?? 10)
const WARMUP = Number(env.BENCH_WARMUP ?? 2)
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 100)
const POOL = Number(env.BENCH_POOL ?? 10)
const CONVERSATIONS = Number(env.BENCH_CONVERSATIONS ?? 1000)
const HISTORY_ROWS = Number(env.BENCH_HISTORY_ROWS ?? 5000)
const LOG_LEVEL = env.BENCH_LOG_LEVEL ?? 'info'
/** Where both servers' logs go: /dev/null (default) or `file` (one file each in the run's temp dir). */
const LOG_TO = env.BENCH_LOG ?? '/dev/null'
const SCENARIOS = (env.BENCH_SCENARIOS ?? 'send,history').split(',').map(s => s.trim()).filter(s => s !== '')
const ROUNDS = Number(env.BENCH_ROUNDS ?? 1)
const CPU_PROF = env.BENCH_CPU_PROF === '1'
/**
 * A diagnostic, off by default: the baseline's send also makes this many point SELECTs by
 * primary key, one after another, as the gateway's send reads two read points after its
 * INSERT. It shows what each extra round trip costs on this machine; the ratio against such
 * a baseline is not the issue's target.
 */
const EXTRA_READS = Number(env.BENCH_BASELINE_EXTRA_READS ?? 0)
const SEND_TARGET = 0.8

const self = new URL(import.meta.url).pathname
const root = new URL('..', import.meta.url).pathname
const APP_ID = 1400000001
const KEY = 'bench-pg-secret'
const SENDER = 'alice'
const HIST_PEER = 'hist'
const TEXT = 'hello from the PostgreSQL benchmark'

// --- the run -----------------------------------------------------------------------------

async function main () {
  const { default: pg } = await import('pg')
  const { signUserSig } = await import('../dist/src/auth/usersig.js')
  const suffix = `${process.pid}_${Date.now().toString(36)}`
  const gwSchema = `bench_gw_${suffix}`
  const baseSchema = `bench_base_${suffix}`
  const dir = mkdtempSync(join(tmpdir(), 'timgate-bench-pg-'))
  const profDir = join(dir, 'cpu-prof')
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 })
  admin.on('error', () => {})
  const children = []
  const fds = []
  let gateway
  let gwConversations
  let cleaned
  const cleanup = () => (cleaned ??= (async () => {
    for (const c of children) await stop(c)
    for (const fd of fds) closeSync(fd)
    for (const schema of [gwSchema, baseSchema]) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((err) => process.stderr.write(`could not drop ${schema}: ${err.message}\n`))
    }
    await admin.end()
    rmSync(dir, { recursive: true, force: true })
  })())
  // Ctrl-C: the children and the schemas go all the same.
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)) })
  try {
    const version = (await admin.query('SHOW server_version')).rows[0].server_version
    const dbName = (await admin.query('SELECT current_database() AS d')).rows[0].d
    const pgSettings = Object.fromEntries((await admin.query(
      `SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'shared_buffers', 'max_connections', 'wal_level')`)).rows
      .map(r => [r.name, r.setting]))

    // The baseline's table: the naive one, with the one index its history page needs.
    await admin.query(`CREATE SCHEMA ${baseSchema}`)
    await admin.query(`CREATE TABLE ${baseSchema}.bench_messages (
      id BIGSERIAL PRIMARY KEY,
      conv_key TEXT NOT NULL,
      sender TEXT NOT NULL,
      server_time BIGINT NOT NULL,
      client_time BIGINT NOT NULL,
      rand BIGINT NOT NULL,
      content TEXT NOT NULL)`)
    await admin.query(`CREATE INDEX bench_messages_history ON ${baseSchema}.bench_messages (conv_key, server_time, id)`)
    // Only for BENCH_BASELINE_EXTRA_READS: an empty keyed table, as read_points is here.
    await admin.query(`CREATE TABLE ${baseSchema}.bench_points (conv_key TEXT NOT NULL, user_id TEXT NOT NULL, pos BIGINT NOT NULL,
      PRIMARY KEY (conv_key, user_id))`)

    const logFd = (name) => {
      const fd = openSync(LOG_TO === 'file' ? join(dir, `${name}.log`) : LOG_TO, 'a')
      fds.push(fd)
      return fd
    }

    const profile = (name) => CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, name)}`] : []
    const baseline = spawn(process.execPath, [...profile('baseline'), self, 'baseline'], {
      env: { ...env, BENCH_PG_URL: PG_URL, BENCH_SCHEMA: baseSchema, BENCH_POOL: String(POOL), BENCH_LOG_LEVEL: LOG_LEVEL, BENCH_BASELINE_EXTRA_READS: String(EXTRA_READS) },
      stdio: ['ignore', logFd('baseline'), 'inherit', 'ipc'],
    })
    children.push(baseline)
    const [basePort] = await once(baseline, 'message')

    const gwPort = await freePort()
    const gwUrl = new URL(PG_URL)
    gwUrl.searchParams.set('schema', gwSchema)
    gateway = spawn(process.execPath, [...profile('gateway'), join(root, 'dist/src/server.js')], {
      env: {
        ...env,
        HOST: '127.0.0.1',
        PORT: String(gwPort),
        TIM_DATA_DIR: join(dir, 'data'),
        TIM_SDKAPPID: String(APP_ID),
        TIM_SECRET_KEY: KEY,
        TIM_RATE_LIMIT: '0',
        LOG_LEVEL,
        DATABASE_URL: gwUrl.toString(),
        TIM_PG_POOL_SIZE: String(POOL),
      },
      stdio: ['ignore', logFd('gateway'), 'inherit'],
    })
    children.push(gateway)

    const servers = {
      baseline: { base: `http://127.0.0.1:${basePort}`, pid: baseline.pid },
      gateway: { base: `http://127.0.0.1:${gwPort}`, pid: gateway.pid },
    }
    await waitFor(`${servers.baseline.base}/health`, baseline)
    await waitFor(`${servers.gateway.base}/health`, gateway)

    const sig = signUserSig(APP_ID, KEY, SENDER, 86400)
    const headers = { authorization: `Bearer ${sig}`, 'content-type': 'application/json' }
    const sendBody = JSON.stringify({ message_elem_array: [{ elem_type: 0, text_elem_content: TEXT }] })
    const peers = Array.from({ length: CONVERSATIONS }, (_, i) => `peer${String(i).padStart(5, '0')}`)
    const sendPaths = peers.map(p => `/conversations/c2c_${p}/messages`)
    const historyPath = `/conversations/c2c_${HIST_PEER}/messages?count=20`

    // Both answer a send and a page the way the scenarios expect, before anything is timed.
    for (const [name, s] of Object.entries(servers)) {
      const res = await fetch(`${s.base}${sendPaths[0]}`, { method: 'POST', headers, body: sendBody })
      const body = await res.json()
      if (res.status !== 200 || typeof body.message_unique_id !== 'number') throw new Error(`${name} send: ${res.status} ${JSON.stringify(body)}`)
    }

    // History: the same number of messages in one conversation on both sides.
    const t0 = Math.floor(Date.now() / 1000) - HISTORY_ROWS - 10
    const rowsToFill = SCENARIOS.includes('history') ? HISTORY_ROWS : 0
    for (let from = 0; from < rowsToFill; from += 1000) {
      const n = Math.min(1000, rowsToFill - from)
      const msgs = Array.from({ length: n }, (_, j) => ({
        message_elem_array: [{ elem_type: 0, text_elem_content: `${TEXT} #${from + j}` }],
        message_server_time: t0 + from + j,
        message_client_time: t0 + from + j,
      }))
      const res = await fetch(`${servers.gateway.base}/conversations/c2c_${HIST_PEER}/messages/import`, { method: 'POST', headers, body: JSON.stringify(msgs) })
      if (res.status !== 200) throw new Error(`gateway import: ${res.status} ${await res.text()}`)
      await res.arrayBuffer()
    }
    await admin.query(`INSERT INTO ${baseSchema}.bench_messages (conv_key, sender, server_time, client_time, rand, content)
      SELECT $1, $2, $3::bigint + i, $3::bigint + i, (i * 2654435761) % 4294967296,
        json_build_object('message_elem_array', json_build_array(json_build_object('elem_type', 0, 'text_elem_content', $4 || ' #' || i)))::text
      FROM generate_series(0, $5::integer - 1) AS i`, [`c2c:${SENDER}\n${HIST_PEER}`, SENDER, t0, TEXT, rowsToFill])
    await admin.query(`ANALYZE ${baseSchema}.bench_messages`)
    await admin.query(`ANALYZE ${gwSchema}.messages`)
    for (const [name, s] of rowsToFill > 0 ? Object.entries(servers) : []) {
      const res = await fetch(`${s.base}${historyPath}`, { headers })
      const page = await res.json()
      if (res.status !== 200 || !Array.isArray(page) || page.length !== 20) throw new Error(`${name} history: ${res.status} ${JSON.stringify(page).slice(0, 300)}`)
    }

    // The load generator: its own process, fed one run at a time.
    const loader = spawn(process.execPath, [self, 'load'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.push(loader)
    const load = async (opts) => {
      loader.send(opts)
      const [msg] = await once(loader, 'message')
      if (msg.error !== undefined) throw new Error(`autocannon: ${msg.error}`)
      return msg
    }

    const scenarios = {
      send: { method: 'POST', paths: sendPaths, body: sendBody, label: `send (C2C, 1 text elem, ${CONVERSATIONS} convs)` },
      history: { method: 'GET', paths: [historyPath], body: undefined, label: `history (GET 20 of ${HISTORY_ROWS})` },
    }
    const pgPort = Number(new URL(PG_URL).port || 5432)
    /** The PostgreSQL backends serving `pid`'s pool. */
    const backendsOf = async (pid) => (await admin.query('SELECT pid FROM pg_stat_activity WHERE client_port = ANY($1::int[])',
      [clientPortsOf(pid, pgPort)])).rows.map(r => r.pid)
    const schemaOf = { baseline: baseSchema, gateway: gwSchema }
    /** Reads and writes of each table of a schema, as PostgreSQL counts them (published within about a second). */
    const tableStats = async (schema) => Object.fromEntries((await admin.query(
      `SELECT relname, coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS scans, n_tup_ins AS ins, n_tup_upd AS upd
       FROM pg_stat_user_tables WHERE schemaname = $1`, [schema])).rows.map(r => [r.relname, { scans: Number(r.scans), ins: Number(r.ins), upd: Number(r.upd) }]))

    // PostgreSQL publishes a busy backend's table counters late (a second or more, and up to
    // ten seconds after it goes idle): they are read around each scenario as a whole, after
    // SETTLE_MS of quiet, and divided by all the requests answered in between.
    const SETTLE_MS = 11_500
    const runs = {}
    const access = {}
    const answeredAll = []
    for (const name of SCENARIOS) {
      const sc = scenarios[name]
      if (sc === undefined) throw new Error(`unknown scenario "${name}" (send, history)`)
      await sleep(SETTLE_MS)
      const statsBefore = { baseline: await tableStats(baseSchema), gateway: await tableStats(gwSchema) }
      const answered = { baseline: 0, gateway: 0 }
    answeredAll.push(answered)
      for (let round = 1; round <= ROUNDS; round++) {
        // Alternate who goes first, so that a drift of the machine favours neither.
        const order = round % 2 === 1 ? ['baseline', 'gateway'] : ['gateway', 'baseline']
        for (const server of order) {
          const s = servers[server]
          const opts = { url: s.base, method: sc.method, headers, body: sc.body, paths: sc.paths, connections: CONNECTIONS }
          answered[server] += (await load({ ...opts, duration: WARMUP })).ok
          // Dirty pages of the previous run are not this run's cost.
          await admin.query('CHECKPOINT')
          await sleep(500)
          writeFileSync(`/proc/${s.pid}/clear_refs`, '5')
          const backends = await backendsOf(s.pid)
          const pgCpu = () => backends.reduce((sum, pid) => sum + cpuOf(pid), 0)
          const before = { server: cpuTimes(s.pid), pg: pgCpu(), loader: cpuOf(loader.pid), machine: machineCpu() }
          const r = await load({ ...opts, duration: DURATION })
          const after = { server: cpuTimes(s.pid), pg: pgCpu(), loader: cpuOf(loader.pid), machine: machineCpu() }
          const n = r.ok
          answered[server] += n
          const result = {
            rps: n / r.seconds,
            p50: r.p50,
            p99: r.p99,
            ok: n,
            non2xx: r.non2xx,
            errors: r.errors,
            timeouts: r.timeouts,
            peakRssMB: memory(s.pid, 'VmHWM') / 2 ** 20,
            serverCpuUsPerReq: (after.server.user + after.server.sys - before.server.user - before.server.sys) / n * 1e6,
            serverUserUsPerReq: (after.server.user - before.server.user) / n * 1e6,
            serverSysUsPerReq: (after.server.sys - before.server.sys) / n * 1e6,
            pgCpuUsPerReq: (after.pg - before.pg) / n * 1e6,
            pgBackends: backends.length,
            loaderCpuUsPerReq: (after.loader - before.loader) / n * 1e6,
            machineBusyPct: (after.machine.busy - before.machine.busy) / (after.machine.total - before.machine.total) * 100 * cpus().length,
          }
          if (r.non2xx > 0 || r.errors > 0) process.stderr.write(`warning: ${name}/${server}: ${r.non2xx} non-2xx, ${r.errors} errors\n`)
          ;((runs[name] ??= {})[server] ??= []).push(result)
          process.stdout.write(`round ${round} ${name.padEnd(8)} ${server.padEnd(9)} ${fmt(result.rps)} req/s, p50 ${fmt(result.p50, 1)} ms, p99 ${fmt(result.p99, 1)} ms, machine CPU ${fmt(result.machineBusyPct)} %\n`)
        }
      }
      await sleep(SETTLE_MS)
      for (const server of ['baseline', 'gateway']) {
        const after = await tableStats(schemaOf[server])
        const perRequest = {}
        for (const [table, a] of Object.entries(after)) {
          const b = statsBefore[server][table] ?? { scans: 0, ins: 0, upd: 0 }
          const d = Object.fromEntries(['scans', 'ins', 'upd']
            .map(k => [k, Math.round((a[k] - b[k]) / answered[server] * 100) / 100]).filter(([, v]) => v !== 0))
          if (Object.keys(d).length > 0) perRequest[table] = d
        }
        ;(access[name] ??= {})[server] = perRequest
      }
    }
    loader.send({ exit: true })

    // The median run (by throughput) of each scenario and server.
    const pick = (rs) => rs.find(r => r.rps === median(rs.map(x => x.rps)))
    const rows = []
    const scenariosOut = []
    for (const name of SCENARIOS) {
      const b = pick(runs[name].baseline)
      const g = pick(runs[name].gateway)
      const ratio = g.rps / b.rps
      const target = name === 'send' ? SEND_TARGET : undefined
      scenariosOut.push({ name, label: scenarios[name].label, baseline: b, gateway: g, ratio, p99Ratio: g.p99 / b.p99, target, tableAccessPerRequest: access[name], runs: runs[name] })
      rows.push([scenarios[name].label, 'baseline', b, ''])
      rows.push(['', 'gateway', g, `${ratio.toFixed(2)}×${target === undefined ? '' : ` (target ≥ ${target}: ${ratio >= target ? 'met' : 'MISSED'})`}`])
    }
    const stored = Number((await admin.query(`SELECT count(*) AS n FROM ${gwSchema}.messages`)).rows[0].n)
    gwConversations = Number((await admin.query(`SELECT count(*) AS n FROM ${gwSchema}.conversations`)).rows[0].n)

    const accessOf = (perRequest) => Object.entries(perRequest).map(([t, d]) => `${t} ${Object.entries(d).map(([k, v]) => `${v} ${k}`).join('/')}`).join(', ') || '-'
    const head = ['scenario', 'server', 'req/s', 'p50 ms', 'p99 ms', 'RSS MB', 'node µs/req (sys)', 'pg µs/req', 'ratio']
    const table = [head, ...rows.map(([label, server, r, ratio]) => [
      label, server, fmt(r.rps), fmt(r.p50, 1), fmt(r.p99, 1), fmt(r.peakRssMB), `${fmt(r.serverCpuUsPerReq)} (${fmt(r.serverSysUsPerReq)})`, fmt(r.pgCpuUsPerReq),
      ratio])]
    const widths = head.map((_, i) => Math.max(...table.map(row => String(row[i]).length)))
    const line = (row) => row.map((c, i) => i < 2 || i === row.length - 1 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])).join('  ').trimEnd()
    const lines = [
      '',
      `timgate PostgreSQL benchmark: node ${process.version}, PostgreSQL ${version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`,
      `${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s measured per run, pool ${POOL} each, log ${LOG_LEVEL} to ${LOG_TO}` +
        `${ROUNDS > 1 ? `, median of ${ROUNDS} rounds` : ''}${CPU_PROF ? ', UNDER --cpu-prof' : ''}` +
        `${EXTRA_READS > 0 ? `, BASELINE SEND WITH ${EXTRA_READS} EXTRA READS (diagnostic)` : ''}`,
      line(head),
      line(widths.map(w => '-'.repeat(w))),
      ...table.slice(1).map(line),
      'node µs/req: CPU time per answered request in the server process (of which in the kernel); pg µs/req: in the PostgreSQL backends of its pool',
      ...scenariosOut.map(sc => `${sc.name}: p99 ratio ${sc.p99Ratio.toFixed(2)}×; per request, baseline: ${accessOf(sc.tableAccessPerRequest.baseline)}; gateway: ${accessOf(sc.tableAccessPerRequest.gateway)}`),
    ]
    process.stdout.write(lines.join('\n') + '\n')

    const out = {
      benchmark: 'pg',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, postgres: version, database: dbName, settings: pgSettings },
      settings: {
        connections: CONNECTIONS, warmupS: WARMUP, durationS: DURATION, poolSize: POOL, logLevel: LOG_LEVEL, logTo: LOG_TO,
        conversations: CONVERSATIONS, historyRows: HISTORY_ROWS, rounds: ROUNDS, cpuProf: CPU_PROF, baselineExtraReads: EXTRA_READS,
      },
      scenarios: scenariosOut,
      gatewayRowsStored: stored,
      gatewayConversations: gwConversations,
    }
    // Stop the servers gracefully: under --cpu-prof, a profile is written as its process exits.
    await stop(gateway)
    await stop(baseline)
    if (CPU_PROF) {
      const total = (server) => answeredAll.reduce((sum, a) => sum + a[server], 0)
      out.profile = {
        baseline: summarizeProfile('baseline', join(profDir, 'baseline'), total('baseline')),
        gateway: summarizeProfile('gateway', join(profDir, 'gateway'), total('gateway')),
      }
      // Kept for Chrome DevTools or speedscope; the temp dir goes.
      const keep = mkdtempSync(join(tmpdir(), 'timgate-bench-pg-profiles-'))
      for (const server of ['baseline', 'gateway']) {
        for (const f of readdirSync(join(profDir, server))) renameSync(join(profDir, server, f), join(keep, `${server}.cpuprofile`))
      }
      process.stdout.write(`profiles kept in ${keep}\n`)
    }
    const resultsDir = join(root, 'bench/results')
    mkdirSync(resultsDir, { recursive: true })
    const file = join(resultsDir, `pg-${out.date.replace(/:/g, '-')}.json`)
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n')
    process.stdout.write(`wrote ${file}\n`)
  } finally {
    await cleanup()
  }
}

// --- where the servers' CPU went (BENCH_CPU_PROF=1) -----------------------------------------

/**
 * Self time of a .cpuprofile by owner, by area (package, file of ours, node core) and by
 * function; printed and returned. The owner of node core and native frames (and of
 * anonymous ones) is the nearest caller that is a package or one of our files.
 */
function summarizeProfile (name, profDir, requests) {
  const files = existsSync(profDir) ? readdirSync(profDir).filter(f => f.endsWith('.cpuprofile')) : []
  if (files.length === 0) {
    process.stdout.write(`${name}: no CPU profile was written\n`)
    return undefined
  }
  const prof = JSON.parse(readFileSync(join(profDir, files[0]), 'utf8'))
  const byId = new Map(prof.nodes.map(n => [n.id, n]))
  const parent = new Map()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map()
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i]
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0))
  }
  const area = (cf) => {
    const url = cf.url
    if (url === '') return cf.functionName.startsWith('(') ? cf.functionName : '(native)'
    if (url.startsWith('node:')) return url.startsWith('node:internal/') ? `node:${url.slice(14).split('/')[0]}` : url
    const nm = url.lastIndexOf('/node_modules/')
    if (nm >= 0) {
      const rest = url.slice(nm + 14).split('/')
      return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
    }
    const d = url.indexOf('/dist/')
    if (d >= 0) return `timgate ${url.slice(d + 6)}`
    return url.endsWith('/bench/pg.mjs') ? 'bench/pg.mjs (baseline)' : url
  }
  const transparent = (a) => a === '(native)' || a.startsWith('node:')
  const owners = new Map()
  const ownerOf = (id) => {
    let known = owners.get(id)
    if (known !== undefined) return known
    const a = area(byId.get(id).callFrame)
    const up = parent.get(id)
    known = transparent(a) && up !== undefined && !byId.get(up).callFrame.functionName.startsWith('(root)') ? ownerOf(up) : a
    owners.set(id, known)
    return known
  }
  const add = (m, k, us) => m.set(k, (m.get(k) ?? 0) + us)
  const byOwner = new Map()
  const areas = new Map()
  const fns = new Map()
  let total = 0
  let busy = 0
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame
    total += us
    if (cf.functionName === '(idle)') continue
    busy += us
    const a = area(cf)
    add(byOwner, ownerOf(id), us)
    add(areas, a, us)
    add(fns, `${cf.functionName || '(anonymous)'} ${a}:${cf.lineNumber + 1}`, us)
  }
  const top = (m, n) => [...m].sort((x, y) => y[1] - x[1]).slice(0, n)
    .map(([k, us]) => ({ name: k, ms: us / 1000, pct: us / busy * 100, usPerRequest: us / requests }))
  const summary = { totalMs: total / 1000, busyMs: busy / 1000, requests, byOwner: top(byOwner, 20), byArea: top(areas, 20), byFunction: top(fns, 25) }
  const show = (rows) => rows.map(r => `  ${r.pct.toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms  ${r.usPerRequest.toFixed(1).padStart(6)} µs/req  ${r.name}`).join('\n')
  process.stdout.write(`\n${name} CPU profile: ${summary.busyMs.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms (self time) over the whole process, ` +
    `${requests} requests answered (warm-ups included): ${(busy / requests).toFixed(0)} µs/req\n` +
    `by owner (node core and native code charged to its caller):\n${show(summary.byOwner)}\nby area:\n${show(summary.byArea)}\nby function:\n${show(summary.byFunction)}\n`)
  return summary
}

// --- the baseline server: a child process --------------------------------------------------

async function baselineServer () {
  const { default: Fastify } = await import('fastify')
  const { default: pg } = await import('pg')
  const schema = env.BENCH_SCHEMA
  const pool = new pg.Pool({ connectionString: env.BENCH_PG_URL, max: Number(env.BENCH_POOL), options: `-c search_path=${schema}` })
  pool.on('error', () => {})
  const app = Fastify({ logger: { level: env.BENCH_LOG_LEVEL } })
  const params = { type: 'object', properties: { conversationID: { type: 'string', minLength: 5, maxLength: 80 } }, required: ['conversationID'] }
  const convKey = (caller, conversationID) => `c2c:${caller}\n${conversationID.slice(4)}`

  const extraReads = Number(env.BENCH_BASELINE_EXTRA_READS ?? 0)
  const point = { name: 'bench_point', text: 'SELECT pos FROM bench_points WHERE conv_key = $1 AND user_id = $2' }
  const insert = {
    name: 'bench_insert',
    text: `INSERT INTO bench_messages (conv_key, sender, server_time, client_time, rand, content)
      VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
  }
  app.post('/conversations/:conversationID/messages', {
    schema: {
      params,
      body: MESSAGE_SCHEMA,
    },
  }, async (request) => {
    const now = Math.floor(Date.now() / 1000)
    const rand = Math.floor(Math.random() * 2 ** 32)
    const key = convKey(SENDER, request.params.conversationID)
    const { rows: [row] } = await pool.query({ ...insert, values: [key, SENDER, now, now, rand, JSON.stringify(request.body)] })
    for (let i = 0; i < extraReads; i++) await pool.query({ ...point, values: [key, i === 0 ? SENDER : request.params.conversationID.slice(4)] })
    return { ...request.body, message_conv_id: request.params.conversationID.slice(4), message_sender: SENDER, message_server_time: now, message_rand: rand, message_unique_id: Number(row.id) }
  })

  const page = {
    name: 'bench_page',
    text: `SELECT id, sender, server_time, client_time, rand, content FROM bench_messages
      WHERE conv_key = $1 ORDER BY server_time DESC, id DESC LIMIT $2`,
  }
  app.get('/conversations/:conversationID/messages', {
    schema: { params, querystring: { type: 'object', properties: { count: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } } },
  }, async (request) => {
    const { rows } = await pool.query({ ...page, values: [convKey(SENDER, request.params.conversationID), request.query.count] })
    return rows.map(r => ({
      ...JSON.parse(r.content),
      message_conv_id: request.params.conversationID.slice(4),
      message_sender: r.sender,
      message_server_time: Number(r.server_time),
      message_client_time: Number(r.client_time),
      message_rand: Number(r.rand),
      message_unique_id: Number(r.id),
    }))
  })
  app.get('/health', async () => ({ ok: true }))

  process.on('SIGTERM', async () => {
    await app.close()
    await pool.end()
    process.exit(0)
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.send(app.server.address().port)
}

// --- the load generator: a child process ---------------------------------------------------

async function loadGenerator () {
  const { default: autocannon } = await import('autocannon')
  process.on('message', async (opts) => {
    if (opts.exit === true) process.exit(0)
    try {
      const { paths } = opts
      // Each request its own conversation, at random: connections never walk in step.
      const setupRequest = paths.length > 1 ? (req) => ({ ...req, path: paths[Math.floor(Math.random() * paths.length)] }) : undefined
      const r = await autocannon({
        url: opts.url,
        connections: opts.connections,
        duration: opts.duration,
        requests: [{
          method: opts.method,
          path: paths[0],
          headers: opts.headers,
          ...(opts.body !== undefined && { body: opts.body }),
          ...(setupRequest !== undefined && { setupRequest }),
        }],
      })
      process.send({
        ok: r['2xx'],
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        seconds: r.duration,
        p50: r.latency.p50,
        p99: r.latency.p99,
      })
    } catch (err) {
      process.send({ error: err.message })
    }
  })
}

if (process.argv[2] === 'baseline') await baselineServer()
else if (process.argv[2] === 'load') await loadGenerator()
else await main()
