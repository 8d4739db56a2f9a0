// The benchmark suite: `npm run bench` (it builds first). Never part of `npm test`.
//
// In one run, on loopback, each server in a child process of its own on a free port:
//   gateway   `node dist/src/server.js`, as `npm start` runs it: SQLite in a fresh
//             TIM_DATA_DIR, production logging (LOG_LEVEL=info, BENCH_LOG_LEVEL) to the
//             same destination as the naive baseline's log, fixed TIM_SDKAPPID and
//             TIM_SECRET_KEY (this script signs the UserSigs). TIM_RATE_LIMIT=1000000 (and
//             TIM_DOWNLOAD_RATE_LIMIT=1000000, TIM_DOWNLOAD_CONCURRENCY=100000): the limiters'
//             code still runs on every request, but they do not throttle the one identity
//             that all the load comes from (the defaults would answer most requests with 429).
//   bare      (bench/baseline.mjs bare) Fastify 5, logger off, a POST route with a JSON body
//             schema: the ceiling of a Fastify route on this machine, for reference.
//   naive     (bench/baseline.mjs naive) Fastify 5 with pino logging at the gateway's level
//             and destination, better-sqlite3 in WAL mode with synchronous=NORMAL on its own
//             file, one message table with one index: ONE INSERT per send, one SELECT per
//             history page, 20 point SELECTs per find, the import's 1000 rows or the batch's
//             500 rows in one transaction ("raw batched inserts of the same rows"), one
//             upsert per read report, one UPDATE per revoke.
//   origin    (baseline.mjs origin) node:http serving a file of BENCH_DOWNLOAD_BYTES.
//   proxy     (baseline.mjs proxy) the barest undici pass-through proxy of the origin.
// Load comes from wrk in its own process (one thread, `-c` connections, --latency), bounded
// in time: BENCH_WARMUP seconds unmeasured, then BENCH_DURATION seconds measured, per
// scenario and server. Lua scripts generated into the run's temp dir pick each request's
// path and body, and print one JSON line in done(): requests, duration, non-2xx responses,
// socket errors, p50/p99. A run with any non-2xx response or socket error is marked
// INVALID: errors never count as throughput. If wrk is not on PATH it is installed with
// `apt-get install -y wrk` (sudo when not root), or the run stops saying so.
//
// Scenarios (BENCH_SCENARIOS, comma-separated; default all; `send`, `history` and
// `download` name their groups):
//   send-c2c          POST /conversations/c2c_<one of 1000 peers>/messages, one text
//                     element, vs naive send (and bare). Targets: ≥ 1.0× the naive req/s,
//                     p99 ≤ 1.5× the naive p99. The gateway's RSS right after the warm-up
//                     and at the end of the measured run are reported, with the naive
//                     server's growth beside them. RSS flat: V8's heap is still sizing
//                     itself 10 s after a short warm-up, so flatness is judged on a further
//                     BENCH_RSS_DURATION seconds (60; 0 skips it) of the same load on the
//                     gateway: the peak of its last third ≤ +10 % over that of its middle
//                     third (the naive server's, under the same run, shown beside it).
//   send-group        POST /conversations/group_<one of 10 groups>/messages vs naive send.
//   find              POST …/messages/find with 20 locators of 1000 imported messages.
//   read              POST …/read with `{}` (read point to the newest) on the 1000 peers.
//   import            POST …/messages/import of 1000 messages, each request into a fresh
//                     conversation (nothing dedupes). Target: rows/s ≥ 0.8× naive.
//   batch             POST /messages/batch to 500 recipients. Target: rows/s ≥ 0.8× naive.
//   revoke            POST …/revoke of a distinct message per request, sent just before by
//                     batch sends (the sender's revoke window is the default 120 s).
//   download-stored   GET …/elements/0/content of a stored upload vs a direct fetch from
//                     the origin. Target ≥ 0.9×.
//   download-proxied  the same for an element URL on the origin (TIM_DOWNLOAD_ALLOWED_HOSTS
//                     is the literal 127.0.0.1:<port>, the explicit opt-in for loopback) vs
//                     the bare undici proxy. Target ≥ 0.9×.
//   history-<size>    GET /conversations/c2c_hist/messages?count=20 on a conversation of
//                     <size> messages (BENCH_HISTORY_SIZES, default 10k,1m,10m), seeded with
//                     SQL straight into the gateway's own migrated SQLite file (and into the
//                     naive baseline's) while they are stopped; vs naive history. Target: the
//                     time per page at the largest size ≤ 1.3× at the smallest.
// Each reports req/s, p50/p99, the peak RSS of the server process (VmRSS every 100 ms
// during the measured run) and the ratio to its baseline. One table is printed and
// bench/results/<YYYY-MM-DD>.json written. Children and the temp dir go at the end,
// whatever happens (Ctrl-C too); BENCH_KEEP=1 keeps the temp dir (logs, databases).
//
// Knobs: BENCH_DURATION (10), BENCH_WARMUP (2), BENCH_CONNECTIONS (100),
// BENCH_BULK_CONNECTIONS (10, import and batch), BENCH_DOWNLOAD_CONNECTIONS (10),
// BENCH_SCENARIOS, BENCH_HISTORY_SIZES, BENCH_DOWNLOAD_BYTES (1 MiB), BENCH_LOG_LEVEL
// (info), BENCH_LOG (`file`: one file per server in the temp dir; or a path such as
// /dev/null), BENCH_TIMEOUT (30 s, wrk's per-request timeout), BENCH_RSS_DURATION (60 s),
// BENCH_KEEP.
import { Buffer } from 'node:buffer'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { URL } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { request } from 'undici'
import { cpuOf, fmt, formatTable, freePort, machineCpu, MB, sampleRss, stop, waitFor } from './lib.mjs'

const env = process.env
const num = (name, fallback) => {
  const v = Number(env[name] ?? fallback)
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number, got "${env[name]}"`)
  return v
}
const DURATION = num('BENCH_DURATION', 10)
const WARMUP = num('BENCH_WARMUP', 2)
const CONNECTIONS = num('BENCH_CONNECTIONS', 100)
const BULK_CONNECTIONS = num('BENCH_BULK_CONNECTIONS', 10)
const DOWNLOAD_CONNECTIONS = num('BENCH_DOWNLOAD_CONNECTIONS', 10)
const DOWNLOAD_BYTES = num('BENCH_DOWNLOAD_BYTES', MB)
const TIMEOUT = num('BENCH_TIMEOUT', 30)
const RSS_DURATION = env.BENCH_RSS_DURATION === '0' ? 0 : num('BENCH_RSS_DURATION', 60)
const LOG_LEVEL = env.BENCH_LOG_LEVEL ?? 'info'
const LOG_TO = env.BENCH_LOG ?? 'file'
const KEEP = env.BENCH_KEEP === '1'
const parseSize = (s) => {
  const m = /^(\d+(?:\.\d+)?)([km]?)$/i.exec(s.trim())
  if (m === null) throw new Error(`BENCH_HISTORY_SIZES: "${s}" is not a size like 10k or 1m`)
  return Math.round(Number(m[1]) * { '': 1, k: 1e3, m: 1e6 }[m[2].toLowerCase()])
}
const sizeLabel = (n) => n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}m` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : String(n)
const HISTORY_SIZES = [...new Set((env.BENCH_HISTORY_SIZES ?? '10k,1m,10m').split(',').filter(s => s.trim() !== '').map(parseSize))].sort((a, b) => a - b)

const ALL = ['send-c2c', 'send-group', 'find', 'read', 'import', 'batch', 'revoke', 'download-stored', 'download-proxied', 'history']
const GROUPS = { send: ['send-c2c', 'send-group'], download: ['download-stored', 'download-proxied'] }
const SCENARIOS = (() => {
  const asked = (env.BENCH_SCENARIOS ?? ALL.join(',')).split(',').map(s => s.trim()).filter(s => s !== '')
    .flatMap(s => GROUPS[s] ?? [s.startsWith('history') ? 'history' : s])
  for (const s of asked) if (!ALL.includes(s)) throw new Error(`BENCH_SCENARIOS: unknown scenario "${s}" (${ALL.join(', ')}, send, download)`)
  return ALL.filter(s => asked.includes(s))
})()

const TARGETS = { sendRatio: 1.0, sendP99Ratio: 1.5, historyRatio: 1.3, bulkRatio: 0.8, downloadRatio: 0.9, rssGrowthPct: 10 }

const root = new URL('..', import.meta.url).pathname
const baselineScript = new URL('./baseline.mjs', import.meta.url).pathname
const APP_ID = 1400000001
const KEY = 'bench-run-secret'
const SENDER = 'alice'
const PEERS = Array.from({ length: 1000 }, (_, i) => `peer${String(i).padStart(4, '0')}`)
const GROUP_IDS = Array.from({ length: 10 }, (_, i) => `bench-group-${i}`)
const BATCH_RECIPIENTS = Array.from({ length: 500 }, (_, i) => `r${String(i).padStart(3, '0')}`)
const REVOKE_RECIPIENTS = Array.from({ length: 500 }, (_, i) => `rv${String(i).padStart(3, '0')}`)
const HIST_PEER = 'hist'
const TEXT = 'hello from the timgate benchmark'
const SEND_BODY = JSON.stringify({ message_elem_array: [{ elem_type: 0, text_elem_content: TEXT }] })
const log = (s) => process.stdout.write(`${s}\n`)

// --- wrk -----------------------------------------------------------------------------------

/** wrk on PATH, installed from Debian's packages when missing; its version line. */
function ensureWrk () {
  const has = () => spawnSync('sh', ['-c', 'command -v wrk'], { stdio: 'ignore' }).status === 0
  if (!has()) {
    const sudo = process.getuid?.() === 0 ? [] : ['sudo']
    const run = (args) => {
      log(`$ ${[...sudo, ...args].join(' ')}`)
      return spawnSync(sudo[0] ?? args[0], sudo.length > 0 ? args : args.slice(1), { stdio: 'inherit' }).status === 0
    }
    log('wrk is not on PATH: installing it from the Debian packages')
    // A fresh machine may have no package lists yet: update once and retry.
    if (!run(['apt-get', 'install', '-y', 'wrk']) && run(['apt-get', 'update'])) run(['apt-get', 'install', '-y', 'wrk'])
    if (!has()) {
      process.stderr.write('bench: wrk is needed and could not be installed; install it (Debian/Ubuntu: `sudo apt-get install -y wrk`) and run again\n')
      process.exit(1)
    }
  }
  const r = spawnSync('wrk', ['-v'], { encoding: 'utf8' })
  return `${r.stdout}${r.stderr}`.split('\n')[0].trim()
}

/** A long-bracket Lua string literal for any text. */
const luaStr = (s) => {
  let eq = ''
  while (s.includes(`]${eq}]`)) eq += '='
  return `[${eq}[${s}]${eq}]`
}

/**
 * Writes a wrk Lua script and its data file; answers the script's path. `items` are
 * `{ path, body? }`; `mode`: random (each request one of the items at random), walk (the
 * items in order, counting wrap-arounds), unique (the first item's body, with the path
 * `uniqueFormat` formatted with a counter, so that no two requests share it).
 */
let scriptCount = 0
function writeScript (dir, { method, items, mode = 'random', uniqueFormat = '', headers = {} }) {
  const n = ++scriptCount
  const data = join(dir, `wrk-${n}.tsv`)
  writeFileSync(data, items.map(i => `${i.path}\t${i.body ?? ''}`).join('\n') + '\n')
  const file = join(dir, `wrk-${n}.lua`)
  writeFileSync(file, `-- generated by bench/run.mjs
local MODE = ${luaStr(mode)}
local METHOD = ${luaStr(method)}
local DATA = ${luaStr(data)}
local UNIQUE = ${luaStr(uniqueFormat)}
${Object.entries(headers).map(([k, v]) => `wrk.headers[ ${luaStr(k)} ] = ${luaStr(v)}`).join('\n')}
wrapped = 0
local items = {}
local n = 0
local i = 0
local counter = 0

function init (args)
  math.randomseed(os.time())
  for line in io.lines(DATA) do
    local tab = line:find("\\t", 1, true)
    local path = line:sub(1, tab - 1)
    local body = line:sub(tab + 1)
    if body == "" then body = nil end
    n = n + 1
    if MODE == "random" then items[n] = wrk.format(METHOD, path, nil, body) else items[n] = { path, body } end
  end
end

function request ()
  if MODE == "random" then return items[math.random(n)] end
  if MODE == "walk" then
    i = i + 1
    if i > n then
      i = 1
      wrapped = wrapped + 1
    end
    return wrk.format(METHOD, items[i][1], nil, items[i][2])
  end
  counter = counter + 1
  return wrk.format(METHOD, string.format(UNIQUE, counter), nil, items[1][2])
end

local threads = {}
function setup (thread)
  table.insert(threads, thread)
end

function done (summary, latency, requests)
  local w = 0
  for _, t in ipairs(threads) do w = w + (t:get("wrapped") or 0) end
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"wrapped":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, w))
end
`)
  return file
}

// --- the run -------------------------------------------------------------------------------

async function main () {
  const wrkVersion = ensureWrk()
  if (!existsSync(join(root, 'dist/src/server.js'))) throw new Error('dist/src/server.js is missing: run `npm run build` (npm run bench does)')
  const { signUserSig } = await import('../dist/src/auth/usersig.js')
  const dir = mkdtempSync(join(tmpdir(), 'timgate-bench-'))
  const children = new Set()
  const workers = new Set()
  const fds = []
  let cleaned
  const cleanup = () => (cleaned ??= (async () => {
    await Promise.all([...workers].map(w => w.terminate()))
    await Promise.all([...children].map(c => stop(c)))
    for (const fd of fds.splice(0)) closeSync(fd)
    if (KEEP) log(`kept ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  })())
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the servers and removing ${dir}\n`)
      void cleanup().finally(() => process.exit(130))
    })
  }

  const logFiles = {}
  const logFd = (name) => {
    const path = LOG_TO === 'file' ? join(dir, `${name}.log`) : LOG_TO
    if (LOG_TO === 'file') logFiles[name] = path
    const fd = openSync(path, 'a')
    fds.push(fd)
    return fd
  }

  /** A child process that the cleanup stops. */
  const track = (child) => {
    children.add(child)
    child.once('exit', () => children.delete(child))
    return child
  }
  /** A baseline server (bench/baseline.mjs <mode>); resolves with `{ child, pid, base, port }` once it answers. */
  const startBaseline = async (mode, name, extraEnv = {}) => {
    const child = track(spawn(process.execPath, [baselineScript, mode], {
      env: { ...env, BENCH_LOG_LEVEL: LOG_LEVEL, BENCH_SENDER: SENDER, ...extraEnv },
      stdio: ['ignore', mode === 'naive' ? logFd(name) : 'ignore', 'inherit', 'ipc'],
    }))
    const [port] = await Promise.race([once(child, 'message'), once(child, 'exit').then(([code]) => { throw new Error(`${name} exited with ${code}`) })])
    const base = `http://127.0.0.1:${port}`
    await waitFor(`${base}/health`, child)
    return { name, child, pid: child.pid, base, port }
  }
  /** The gateway as `npm start` runs it, on `dataDir`. */
  const startGateway = async (name, dataDir, extraEnv = {}) => {
    const port = await freePort()
    const gwEnv = {
      ...env,
      HOST: '127.0.0.1',
      PORT: String(port),
      TIM_DATA_DIR: dataDir,
      TIM_SDKAPPID: String(APP_ID),
      TIM_SECRET_KEY: KEY,
      TIM_RATE_LIMIT: '1000000',
      TIM_DOWNLOAD_RATE_LIMIT: '1000000',
      TIM_DOWNLOAD_CONCURRENCY: '100000',
      LOG_LEVEL,
      ...extraEnv,
    }
    delete gwEnv.DATABASE_URL // SQLite, the default
    const child = track(spawn(process.execPath, [join(root, 'dist/src/server.js')], { cwd: root, env: gwEnv, stdio: ['ignore', logFd(name), 'pipe'] }))
    // Its stderr (start-up errors, anything printed outside the logger) is shown, marked as its.
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => process.stderr.write(`[${name} stderr] ${line}\n`))
    const base = `http://127.0.0.1:${port}`
    await waitFor(`${base}/health`, child)
    return { name, child, pid: child.pid, base, port }
  }

  /** seedFile in a worker thread (that the cleanup ends); its seconds. */
  const seed = (job) => new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: job })
    workers.add(w)
    w.once('message', resolve)
    w.once('error', reject)
    w.once('exit', (code) => {
      workers.delete(w)
      reject(new Error(`seeding ${job.file} stopped with exit code ${code}`))
    })
  })

  const sig = signUserSig(APP_ID, KEY, SENDER, 86400 * 7)
  const jsonHeaders = { authorization: `Bearer ${sig}`, 'content-type': 'application/json' }
  /** One request for the setup; throws unless it answers `expect`. */
  const call = async (server, method, path, body, { expect = 200, headers = jsonHeaders } = {}) => {
    const res = await request(`${server.base}${path}`, { method, headers, body })
    const text = await res.body.text()
    if (res.statusCode !== expect) throw new Error(`${server.name} ${method} ${path}: ${res.statusCode} ${text.slice(0, 500)}`)
    return text === '' ? undefined : JSON.parse(text)
  }
  /** Runs `fn` over `xs` with `n` at a time. */
  const pool = async (xs, n, fn) => {
    const out = new Array(xs.length)
    let next = 0
    await Promise.all(Array.from({ length: n }, async () => {
      while (next < xs.length) {
        const i = next++
        out[i] = await fn(xs[i], i)
      }
    }))
    return out
  }

  /** One wrk run against `server`; the parsed JSON of its done(). */
  const wrk = async (server, script, connections, seconds) => {
    const child = track(spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `--timeout`, `${TIMEOUT}s`, '-s', script, server.base],
      { stdio: ['ignore', 'pipe', 'pipe'] }))
    let out = ''
    let err = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { err += d })
    const [code] = await once(child, 'exit')
    // The requests in flight when wrk stopped are answered before anything else starts.
    await sleep(500)
    const line = out.split('\n').find(l => l.startsWith('BENCHJSON '))
    if (code !== 0 || line === undefined) throw new Error(`wrk exited with ${code}: ${err}${out}`)
    return JSON.parse(line.slice(10))
  }

  const results = []
  /**
   * Warm-up and measured run of one scenario on one server. `plan(phase)` answers the
   * script for 'warmup' and 'measured' (it may do setup work first, outside the timing).
   */
  const measure = async (scenario, server, plan, connections, { rowsPerRequest } = {}) => {
    const warmScript = await plan('warmup')
    const warm = await wrk(server, warmScript, connections, WARMUP)
    const script = await plan('measured', warm)
    const rss = sampleRss(server.pid, 100)
    const cpu0 = cpuOf(server.pid)
    const m0 = machineCpu()
    const r = await wrk(server, script, connections, DURATION)
    const cpu1 = cpuOf(server.pid)
    const m1 = machineCpu()
    const mem = rss.stop()
    const seconds = r.duration_us / 1e6
    const bad = r.status + r.connect + r.read + r.write + r.timeout
    const ok = r.requests - r.status
    const result = {
      scenario,
      server: server.name,
      connections,
      requests: r.requests,
      ok,
      non2xx: r.status,
      socketErrors: { connect: r.connect, read: r.read, write: r.write, timeout: r.timeout },
      wrapped: r.wrapped,
      valid: bad === 0 && r.wrapped === 0,
      seconds,
      rps: ok / seconds,
      rowsPerSecond: rowsPerRequest === undefined ? undefined : ok * rowsPerRequest / seconds,
      mbps: scenario.startsWith('download') ? r.bytes / MB / seconds : undefined,
      p50: r.p50_us / 1000,
      p99: r.p99_us / 1000,
      max: r.max_us / 1000,
      rssAfterWarmupMB: mem.first / MB,
      rssEndMB: mem.last / MB,
      peakRssMB: mem.peak / MB,
      serverCpuUsPerRequest: (cpu1 - cpu0) / Math.max(1, r.requests) * 1e6,
      machineBusyPct: (m1.busy - m0.busy) / (m1.total - m0.total) * 100,
      warmup: { requests: warm.requests, non2xx: warm.status, rps: (warm.requests - warm.status) / (warm.duration_us / 1e6) },
    }
    results.push(result)
    const problems = [
      r.status > 0 && `${r.status} non-2xx`,
      r.connect + r.read + r.write > 0 && `socket errors ${r.connect}/${r.read}/${r.write} (connect/read/write)`,
      r.timeout > 0 && `${r.timeout} timeouts`,
      r.wrapped > 0 && 'ran out of prepared messages',
    ].filter(Boolean)
    log(`  ${scenario.padEnd(16)} ${server.name.padEnd(13)} ${fmt(result.rps).padStart(7)} req/s${result.rowsPerSecond === undefined ? '' : ` (${fmt(result.rowsPerSecond)} rows/s)`}, ` +
      `p50 ${fmt(result.p50, 1)} ms, p99 ${fmt(result.p99, 1)} ms, peak RSS ${fmt(result.peakRssMB)} MB, machine CPU ${fmt(result.machineBusyPct)} %` +
      `${problems.length > 0 ? `  INVALID: ${problems.join(', ')}` : ''}`)
    return result
  }
  /** A plan that uses the same script for the warm-up and the measured run. */
  const same = (spec) => {
    let script
    return async () => (script ??= writeScript(dir, { headers: jsonHeaders, ...spec }))
  }

  const startedAt = new Date()
  const machine = {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGB: Math.round(freemem() / 2 ** 30),
    loadavgAtStart: loadavg().map(x => Math.round(x * 100) / 100),
    kernel: release(),
    node: process.version,
    wrk: wrkVersion,
    sqlite: undefined,
    gitCommit: (() => {
      try {
        return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
      } catch {
        return undefined
      }
    })(),
  }
  const settings = {
    durationS: DURATION,
    warmupS: WARMUP,
    connections: CONNECTIONS,
    bulkConnections: BULK_CONNECTIONS,
    downloadConnections: DOWNLOAD_CONNECTIONS,
    downloadBytes: DOWNLOAD_BYTES,
    historySizes: HISTORY_SIZES,
    scenarios: SCENARIOS,
    logLevel: LOG_LEVEL,
    logTo: LOG_TO,
    wrkTimeoutS: TIMEOUT,
    rssDurationS: RSS_DURATION,
    gateway: { TIM_RATE_LIMIT: 1000000, TIM_DOWNLOAD_RATE_LIMIT: 1000000, TIM_DOWNLOAD_CONCURRENCY: 100000 },
    targets: TARGETS,
  }
  const seeding = []
  const phases = []
  const derived = []
  let logSummary

  try {
    const { default: Database } = await import('better-sqlite3')
    machine.sqlite = new Database(':memory:').prepare('SELECT sqlite_version() AS v').get().v
    log(`timgate benchmark: ${machine.cpus} × ${machine.model}, node ${machine.node}, ${wrkVersion}, SQLite ${machine.sqlite}`)
    log(`${WARMUP} s warm-up + ${DURATION} s measured per run, ${CONNECTIONS} connections (${BULK_CONNECTIONS} for import/batch, ${DOWNLOAD_CONNECTIONS} for downloads), ` +
      `log ${LOG_LEVEL} to ${LOG_TO === 'file' ? 'a file per server' : LOG_TO}; temp dir ${dir}`)
    log(`scenarios: ${SCENARIOS.map(s => s === 'history' ? HISTORY_SIZES.map(n => `history-${sizeLabel(n)}`).join(', ') : s).join(', ')}`)

    // The servers of the scenarios other than history.
    const needs = (...names) => names.some(n => SCENARIOS.includes(n))
    const downloads = needs('download-stored', 'download-proxied')
    let origin, proxy, gateway, naive, bare
    if (downloads) {
      const file = join(dir, 'download.bin')
      const block = Buffer.alloc(Math.min(DOWNLOAD_BYTES, MB))
      for (let i = 0; i + 4 <= block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i)
      const fd = openSync(file, 'w')
      for (let written = 0; written < DOWNLOAD_BYTES; written += block.length) {
        writeFileSync(fd, block.subarray(0, Math.min(block.length, DOWNLOAD_BYTES - written)))
      }
      closeSync(fd)
      origin = await startBaseline('origin', 'origin', { BENCH_DOWNLOAD_FILE: file })
      origin.file = file
      if (needs('download-proxied')) proxy = await startBaseline('proxy', 'proxy', { BENCH_ORIGIN: origin.base })
    }
    if (SCENARIOS.some(s => s !== 'history')) {
      gateway = await startGateway('gateway', join(dir, 'gateway'), origin === undefined ? {} : { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${origin.port}` })
      naive = await startBaseline('naive', 'naive', { BENCH_NAIVE_DB: join(dir, 'naive.db') })
    }
    if (needs('send-c2c')) bare = await startBaseline('bare', 'bare')

    // Every conversation the scenarios read has a message in it, on both servers.
    if (needs('read')) {
      for (const s of [gateway, naive]) {
        for (let i = 0; i < PEERS.length; i += 500) {
          await call(s, 'POST', '/messages/batch', JSON.stringify({ msg_batch_send_param_identifier_array: PEERS.slice(i, i + 500), msg_batch_send_param_msg: JSON.parse(SEND_BODY) }))
        }
      }
    }
    const sendItems = PEERS.map(p => ({ path: `/conversations/c2c_${p}/messages`, body: SEND_BODY }))

    for (const scenario of SCENARIOS) {
      if (scenario === 'history') continue
      log(`${scenario}:`)
      const phaseStarted = Date.now()
      if (scenario === 'send-c2c') {
        const plan = same({ method: 'POST', items: sendItems })
        await measure(scenario, bare, plan, CONNECTIONS)
        const b = await measure(scenario, naive, plan, CONNECTIONS)
        const g = await measure(scenario, gateway, plan, CONNECTIONS)
        const pct = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`
        derived.push({ name: 'send-c2c p99', server: 'gateway/naive', value: g.p99 / b.p99, shown: `${(g.p99 / b.p99).toFixed(2)}×`, target: `≤ ${TARGETS.sendP99Ratio}×`, met: g.p99 / b.p99 <= TARGETS.sendP99Ratio, valid: g.valid && b.valid })
        const growth = (g.rssEndMB - g.rssAfterWarmupMB) / g.rssAfterWarmupMB * 100
        const naiveGrowth = (b.rssEndMB - b.rssAfterWarmupMB) / b.rssAfterWarmupMB * 100
        derived.push({
          name: 'RSS (send-c2c)',
          server: 'gateway',
          value: growth,
          shown: `${fmt(g.rssAfterWarmupMB)}→${fmt(g.rssEndMB)} MB ${pct(growth)} (naive ${pct(naiveGrowth)})`,
          valid: g.valid,
          rssAfterWarmupMB: g.rssAfterWarmupMB,
          rssEndMB: g.rssEndMB,
          naiveRssAfterWarmupMB: b.rssAfterWarmupMB,
          naiveRssEndMB: b.rssEndMB,
        })
        if (RSS_DURATION > 0) {
          // Ten seconds after a short warm-up, V8's heap is still sizing itself (the naive
          // server's grows too): flatness is judged on a longer run of the same load, by
          // the peak of its last third against the peak of its middle third. The naive
          // server gets the same run, for comparison.
          log(`  (RSS under sustained load: the same send-c2c load for ${RSS_DURATION} s on each)`)
          const sustained = async (server) => {
            const rss = sampleRss(server.pid, 100)
            const r = await wrk(server, await plan(), CONNECTIONS, RSS_DURATION)
            const v = rss.stop().values
            const third = Math.floor(v.length / 3)
            const middle = Math.max(...v.slice(third, 2 * third))
            const last = Math.max(...v.slice(2 * third))
            const out = {
              server: server.name,
              startMB: v[0] / MB,
              endMB: v.at(-1) / MB,
              lastThirdOverMiddlePct: (last - middle) / middle * 100,
              valid: r.status + r.connect + r.read + r.write + r.timeout === 0,
              rps: (r.requests - r.status) / (r.duration_us / 1e6),
              non2xx: r.status,
              socketErrors: { connect: r.connect, read: r.read, write: r.write, timeout: r.timeout },
              rssEvery10sMB: [...v.filter((_, i) => i % 100 === 0), v.at(-1)].map(x => Math.round(x / MB)),
            }
            log(`  send-c2c sustained ${server.name.padEnd(8)} ${fmt(out.rps).padStart(7)} req/s, RSS every 10 s: ${out.rssEvery10sMB.join(', ')} MB, ` +
              `last third ${pct(out.lastThirdOverMiddlePct)} over the middle${out.valid ? '' : `  INVALID: ${r.status} non-2xx, socket errors ${r.connect}/${r.read}/${r.write}/${r.timeout}`}`)
            return out
          }
          const sn = await sustained(naive)
          const sg = await sustained(gateway)
          derived.push({
            name: `RSS flat (send-c2c ${RSS_DURATION} s)`,
            server: 'gateway',
            value: sg.lastThirdOverMiddlePct,
            shown: `${fmt(sg.startMB)}→${fmt(sg.endMB)} MB; last third ${pct(sg.lastThirdOverMiddlePct)} over the middle (naive ${pct(sn.lastThirdOverMiddlePct)})`,
            target: `≤ +${TARGETS.rssGrowthPct} %`,
            met: sg.lastThirdOverMiddlePct <= TARGETS.rssGrowthPct,
            valid: sg.valid,
            gateway: sg,
            naive: sn,
          })
        }
      } else if (scenario === 'send-group') {
        for (const id of GROUP_IDS) {
          await call(gateway, 'POST', '/groups', JSON.stringify({ group_id: id, group_name: id, group_member_array: ['bob', 'carol', 'dave'] }), { expect: 201 })
        }
        const plan = same({ method: 'POST', items: GROUP_IDS.map(id => ({ path: `/conversations/group_${id}/messages`, body: SEND_BODY })) })
        await measure(scenario, naive, plan, CONNECTIONS)
        await measure(scenario, gateway, plan, CONNECTIONS)
      } else if (scenario === 'find') {
        // 1000 messages in one conversation; each request finds 20 of them at random.
        const t0 = Math.floor(Date.now() / 1000) - 100_000
        const msgs = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({
          message_sender: SENDER, message_server_time: t0 + i, message_elem_array: [{ elem_type: 0, text_elem_content: `${TEXT} #${i}` }],
        })))
        for (const s of [naive, gateway]) {
          const stored = await call(s, 'POST', '/conversations/c2c_finder/messages/import', msgs)
          const items = Array.from({ length: 200 }, () => ({
            path: '/conversations/c2c_finder/messages/find',
            body: JSON.stringify(Array.from({ length: 20 }, () => {
              const m = stored[Math.floor(Math.random() * stored.length)]
              return { message_locator_seq: m.message_seq, message_locator_rand: m.message_rand, message_locator_time: m.message_server_time }
            })),
          }))
          const check = await call(s, 'POST', items[0].path, items[0].body)
          if (check.length !== 20) throw new Error(`${s.name} find: ${check.length} messages for 20 locators`)
          await measure(scenario, s, same({ method: 'POST', items }), CONNECTIONS)
        }
      } else if (scenario === 'read') {
        const plan = same({ method: 'POST', items: PEERS.map(p => ({ path: `/conversations/c2c_${p}/read`, body: '{}' })) })
        await measure(scenario, naive, plan, CONNECTIONS)
        await measure(scenario, gateway, plan, CONNECTIONS)
      } else if (scenario === 'import') {
        const t0 = Math.floor(Date.now() / 1000) - 200_000
        const body = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({
          message_sender: SENDER, message_server_time: t0 + i, message_elem_array: [{ elem_type: 0, text_elem_content: `${TEXT}, imported #${i}` }],
        })))
        for (const s of [naive, gateway]) {
          // A fresh conversation per request (and per run): nothing dedupes.
          let run = 0
          const plan = async () => writeScript(dir, { headers: jsonHeaders, method: 'POST', mode: 'unique', items: [{ path: '/', body }], uniqueFormat: `/conversations/c2c_imp${++run}x%d/messages/import` })
          await measure(scenario, s, plan, BULK_CONNECTIONS, { rowsPerRequest: 1000 })
        }
      } else if (scenario === 'batch') {
        const plan = same({
          method: 'POST',
          items: [{ path: '/messages/batch', body: JSON.stringify({ msg_batch_send_param_identifier_array: BATCH_RECIPIENTS, msg_batch_send_param_msg: JSON.parse(SEND_BODY) }) }],
        })
        await measure(scenario, naive, plan, BULK_CONNECTIONS, { rowsPerRequest: 500 })
        await measure(scenario, gateway, plan, BULK_CONNECTIONS, { rowsPerRequest: 500 })
      } else if (scenario === 'revoke') {
        for (const s of [naive, gateway]) {
          // Messages to revoke, sent by batch just before each run (inside the revoke
          // window); the measured run gets 3× what the warm-up's rate needs (the warm-up is
          // slower than the run), at least 20000, and is marked invalid if it runs out.
          const prepare = async (count) => {
            const requests = Math.ceil(count / REVOKE_RECIPIENTS.length)
            const started = Date.now()
            const answers = await pool(Array.from({ length: requests }, (_, i) => i), 4, () => call(s, 'POST', '/messages/batch',
              JSON.stringify({ msg_batch_send_param_identifier_array: REVOKE_RECIPIENTS, msg_batch_send_param_msg: { message_elem_array: [{ elem_type: 0, text_elem_content: 'to be revoked' }] } })))
            const items = answers.flat().map(r => ({
              path: `/conversations/c2c_${r.msg_batch_send_result_identifier}/revoke`,
              body: JSON.stringify({ message_msg_id: r.msg_batch_send_result_msg.message_msg_id }),
            }))
            for (let i = items.length - 1; i > 0; i--) {
              const j = Math.floor(Math.random() * (i + 1))
              ;[items[i], items[j]] = [items[j], items[i]]
            }
            log(`    (${s.name}: ${items.length} messages sent to revoke in ${((Date.now() - started) / 1000).toFixed(1)} s)`)
            return writeScript(dir, { headers: jsonHeaders, method: 'POST', mode: 'walk', items })
          }
          const plan = async (phase, warm) => phase === 'warmup'
            ? prepare(5000)
            : prepare(Math.min(1_000_000, Math.max(20_000, Math.ceil((warm.requests / (warm.duration_us / 1e6)) * DURATION * 3))))
          await measure(scenario, s, plan, CONNECTIONS)
        }
      } else if (scenario === 'download-stored') {
        const up = await request(`${gateway.base}/media`, {
          method: 'POST',
          headers: { authorization: `Bearer ${sig}`, 'content-type': 'application/octet-stream', 'content-length': String(DOWNLOAD_BYTES) },
          body: createReadStream(origin.file),
        })
        const upload = await up.body.json()
        if (up.statusCode !== 201) throw new Error(`upload: ${up.statusCode} ${JSON.stringify(upload)}`)
        const msg = await call(gateway, 'POST', '/conversations/c2c_bob/messages', JSON.stringify({
          message_elem_array: [{ elem_type: 4, file_elem_file_name: 'download.bin', file_elem_file_size: DOWNLOAD_BYTES, file_elem_file_id: upload.id }],
        }))
        const path = `/conversations/c2c_bob/messages/${msg.message_msg_id}/elements/0/content`
        await measure(scenario, origin, same({ method: 'GET', items: [{ path: '/download.bin' }] }), DOWNLOAD_CONNECTIONS)
        await measure(scenario, gateway, same({ method: 'GET', items: [{ path }] }), DOWNLOAD_CONNECTIONS)
      } else if (scenario === 'download-proxied') {
        const msg = await call(gateway, 'POST', '/conversations/c2c_bob/messages', JSON.stringify({
          message_elem_array: [{ elem_type: 4, file_elem_file_name: 'download.bin', file_elem_file_size: DOWNLOAD_BYTES, file_elem_url: `${origin.base}/download.bin` }],
        }))
        const path = `/conversations/c2c_bob/messages/${msg.message_msg_id}/elements/0/content`
        await measure(scenario, proxy, same({ method: 'GET', items: [{ path: '/download.bin' }] }), DOWNLOAD_CONNECTIONS)
        await measure(scenario, gateway, same({ method: 'GET', items: [{ path }] }), DOWNLOAD_CONNECTIONS)
      }
      phases.push({ phase: scenario, seconds: (Date.now() - phaseStarted) / 1000 })
    }
    for (const s of [bare, naive, gateway, proxy, origin]) if (s !== undefined) await stop(s.child)

    if (SCENARIOS.includes('history')) {
      log('history:')
      // Both start once on their files (the gateway migrates, the naive server makes its
      // table) and stop; then each size is seeded straight into those files with SQL.
      const gwDir = join(dir, 'history-gateway')
      const naiveDb = join(dir, 'history-naive.db')
      await stop((await startGateway('history-gateway', gwDir)).child)
      await stop((await startBaseline('naive', 'history-naive', { BENCH_NAIVE_DB: naiveDb })).child)
      const t0 = Math.floor(Date.now() / 1000) - HISTORY_SIZES.at(-1) - 86400
      let have = 0
      const convKey = `c2c:${SENDER}\n${HIST_PEER}`
      for (const size of HISTORY_SIZES) {
        const label = `history-${sizeLabel(size)}`
        const phaseStarted = Date.now()
        const started = Date.now()
        const [gwSeconds, naiveSeconds] = await Promise.all([
          seed({ file: join(gwDir, 'timgate.db'), kind: 'gateway', convKey, from: have, to: size, t0 }),
          seed({ file: naiveDb, kind: 'naive', convKey, from: have, to: size, t0 }),
        ])
        const bothSeconds = (Date.now() - started) / 1000
        seeding.push({ size, from: have, gatewaySeconds: gwSeconds, naiveSeconds, seconds: bothSeconds })
        log(`  seeded ${label}: +${size - have} messages in ${bothSeconds.toFixed(1)} s (gateway's file ${gwSeconds.toFixed(1)} s, naive's ${naiveSeconds.toFixed(1)} s, in parallel)`)
        have = size
        const g = await startGateway('history-gateway', gwDir)
        const b = await startBaseline('naive', 'history-naive', { BENCH_NAIVE_DB: naiveDb })
        const path = `/conversations/c2c_${HIST_PEER}/messages?count=20`
        for (const s of [b, g]) {
          const page = await call(s, 'GET', path, undefined, { headers: { authorization: `Bearer ${sig}` } })
          if (page.length !== 20 || page.every(m => m.message_seq !== size)) throw new Error(`${s.name} ${label}: the page is not the newest 20 of ${size} (got ${page.length}, seqs ${page.map(m => m.message_seq).join(',')})`)
        }
        const plan = same({ method: 'GET', items: [{ path }] })
        b.name = 'naive'
        g.name = 'gateway'
        await measure(label, b, plan, CONNECTIONS)
        await measure(label, g, plan, CONNECTIONS)
        await stop(g.child)
        await stop(b.child)
        phases.push({ phase: label, seconds: (Date.now() - phaseStarted) / 1000, seedingSeconds: bothSeconds })
      }
    }

    logSummary = LOG_TO === 'file' ? await summarizeLogs(logFiles) : undefined
  } finally {
    await cleanup()
  }

  // --- the table ----------------------------------------------------------------------------
  const of = (scenario, server) => results.find(r => r.scenario === scenario && r.server === server)
  const ratioTo = {
    'send-c2c': 'naive', 'send-group': 'naive', find: 'naive', read: 'naive', import: 'naive', batch: 'naive', revoke: 'naive',
    'download-stored': 'origin', 'download-proxied': 'proxy',
  }
  const targetOf = {
    'send-c2c': TARGETS.sendRatio, import: TARGETS.bulkRatio, batch: TARGETS.bulkRatio, 'download-stored': TARGETS.downloadRatio, 'download-proxied': TARGETS.downloadRatio,
  }
  const rows = []
  const scenariosOut = []
  const scenarioNames = [...new Set(results.map(r => r.scenario))]
  for (const name of scenarioNames) {
    const base = ratioTo[name] ?? 'naive'
    const b = of(name, base)
    for (const r of results.filter(x => x.scenario === name)) {
      const isGateway = r.server === 'gateway'
      const ratio = isGateway && b !== undefined && b.rps > 0 ? r.rps / b.rps : undefined
      const target = isGateway ? targetOf[name] : undefined
      const valid = r.valid && (b === undefined || b.valid)
      const met = !valid ? 'INVALID' : target === undefined ? '-' : ratio >= target ? 'yes' : 'NO'
      if (isGateway) scenariosOut.push({ name, baseline: base, ratio, p99Ratio: b === undefined ? undefined : r.p99 / b.p99, target, met })
      rows.push([
        name, r.server, fmt(r.rps), r.rowsPerSecond === undefined ? (r.mbps === undefined ? '' : `${fmt(r.mbps)} MB/s`) : fmt(r.rowsPerSecond),
        fmt(r.p50, 1), fmt(r.p99, 1), fmt(r.peakRssMB), ratio === undefined ? '' : `${ratio.toFixed(2)}× ${base}`,
        target === undefined ? '' : `≥ ${target}×`, isGateway || !r.valid ? (r.valid ? met : 'INVALID') : '',
      ])
    }
  }
  const histories = HISTORY_SIZES.map(n => of(`history-${sizeLabel(n)}`, 'gateway')).filter(Boolean)
  if (histories.length >= 2) {
    const small = histories[0]
    const large = histories.at(-1)
    const ratio = small.rps / large.rps
    derived.push({
      name: `${large.scenario}/${small.scenario.slice(8)}`,
      server: 'gateway',
      value: ratio,
      shown: `${ratio.toFixed(2)}× time/page (p50 ${(large.p50 / small.p50).toFixed(2)}×)`,
      target: `≤ ${TARGETS.historyRatio}×`,
      met: ratio <= TARGETS.historyRatio,
      valid: small.valid && large.valid,
    })
  }
  for (const d of derived) rows.push([d.name, d.server, '', '', '', '', '', d.shown, d.target ?? '', d.valid ? (d.met === undefined ? '-' : d.met ? 'yes' : 'NO') : 'INVALID'])

  const head = ['scenario', 'server', 'req/s', 'rows/s', 'p50 ms', 'p99 ms', 'peak RSS MB', 'ratio', 'target', 'met?']
  const lines = [
    '',
    `timgate benchmark ${startedAt.toISOString()}: ${machine.cpus} × ${machine.model}, node ${machine.node}, ${wrkVersion}`,
    `${WARMUP} s warm-up + ${DURATION} s measured per run; ${CONNECTIONS} connections (${BULK_CONNECTIONS} import/batch, ${DOWNLOAD_CONNECTIONS} downloads); log ${LOG_LEVEL} to ${LOG_TO}`,
    ...formatTable(head, rows),
  ]
  if (seeding.length > 0) {
    lines.push(`history seeding (gateway's and naive's files in parallel): ${seeding.map(s => `${sizeLabel(s.size)} +${s.size - s.from} in ${s.seconds.toFixed(1)} s`).join('; ')}` +
      `; ${seeding.reduce((t, s) => t + s.seconds, 0).toFixed(1)} s in all`)
  }
  const totalSeconds = (Date.now() - startedAt.getTime()) / 1000
  lines.push(`time: ${phases.map(p => `${p.phase} ${p.seconds.toFixed(0)} s`).join(', ')}; ${(totalSeconds / 60).toFixed(1)} min in all`)
  const invalid = results.filter(r => !r.valid)
  for (const r of invalid) {
    lines.push(`INVALID ${r.scenario}/${r.server}: ${r.non2xx} non-2xx of ${r.requests}, socket errors ${JSON.stringify(r.socketErrors)}${r.wrapped > 0 ? ', ran out of prepared messages' : ''}`)
  }
  if (logSummary !== undefined) {
    for (const [name, s] of Object.entries(logSummary)) {
      const statuses = Object.entries(s.statuses).filter(([code]) => Number(code) >= 400)
      if (statuses.length > 0 || s.errors > 0) {
        lines.push(`${name} log: ${statuses.map(([c, n]) => `${n}× ${c}`).join(', ') || 'no 4xx/5xx'}; ${s.errors} error lines${s.samples.length > 0 ? `, e.g. ${s.samples[0]}` : ''}`)
      }
    }
  }
  log(lines.join('\n'))

  const out = {
    benchmark: 'timgate',
    date: startedAt.toISOString(),
    machine,
    settings,
    scenarios: scenariosOut,
    derived,
    runs: results,
    historySeeding: seeding,
    phases,
    totalSeconds,
    logs: logSummary,
    loadavgAtEnd: loadavg().map(x => Math.round(x * 100) / 100),
  }
  const resultsDir = join(root, 'bench/results')
  mkdirSync(resultsDir, { recursive: true })
  const file = join(resultsDir, `${startedAt.toISOString().slice(0, 10)}.json`)
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n')
  log(`wrote ${file}`)
}

/**
 * Grows the one history conversation of a stopped server's SQLite file from `from` to `to`
 * messages (seq from+1 … to, one second apart, ending in the past), in transactions of a
 * million rows: the gateway's schema (messages and the conversation's seq/time allocator)
 * or the naive baseline's table. Runs in a worker thread (the gateway's and the naive
 * file are seeded at the same time); answers the seconds it took.
 */
function seedFile ({ file, kind, convKey, from, to, t0 }, Database) {
  const started = process.hrtime.bigint()
  const db = new Database(file)
  try {
    db.pragma('synchronous = OFF')
    db.pragma('cache_size = -1000000')
    const content = `'{"message_elem_array":[{"elem_type":0,"text_elem_content":"${TEXT}, history #' || i || '"}]}'`
    const sender = `CASE i % 2 WHEN 0 THEN '${SENDER}' ELSE '${HIST_PEER}' END`
    const insert = kind === 'gateway'
      ? db.prepare(`WITH RECURSIVE c(i) AS (SELECT CAST(@lo AS INTEGER) UNION ALL SELECT i + 1 FROM c WHERE i < @hi)
          INSERT INTO messages (conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content)
          SELECT @conv, i, ${sender}, NULL, @t0 + i, @t0 + i, (i * 2654435761) % 4294967296, 2, 0, 1, ${content} FROM c`)
      : db.prepare(`WITH RECURSIVE c(i) AS (SELECT CAST(@lo AS INTEGER) UNION ALL SELECT i + 1 FROM c WHERE i < @hi)
          INSERT INTO messages (conv, seq, sender, time, client_time, rand, status, content)
          SELECT @conv, i, ${sender}, @t0 + i, @t0 + i, (i * 2654435761) % 4294967296, 2, ${content} FROM c`)
    const CHUNK = 1_000_000
    for (let lo = from + 1; lo <= to; lo += CHUNK) {
      const hi = Math.min(to, lo + CHUNK - 1)
      db.transaction(() => insert.run({ lo, hi, conv: convKey, t0 }))()
      db.pragma('wal_checkpoint(TRUNCATE)')
    }
    if (kind === 'gateway') {
      db.prepare(`INSERT INTO conversations (conv_key, last_seq, last_time) VALUES (?, ?, ?)
        ON CONFLICT (conv_key) DO UPDATE SET last_seq = excluded.last_seq, last_time = excluded.last_time`).run(convKey, to, t0 + to)
    }
  } finally {
    db.close()
  }
  return Number(process.hrtime.bigint() - started) / 1e9
}

/** Status counts of the "request completed" lines and the error lines (level ≥ 50) of each server log. */
async function summarizeLogs (files) {
  const out = {}
  for (const [name, file] of Object.entries(files)) {
    if (!existsSync(file) || statSync(file).size === 0) continue
    const s = { lines: 0, statuses: {}, errors: 0, samples: [] }
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      s.lines++
      const status = /"statusCode":(\d+)/.exec(line)
      if (status !== null && line.includes('"request completed"')) s.statuses[status[1]] = (s.statuses[status[1]] ?? 0) + 1
      const level = /"level":(\d+)/.exec(line)
      if (level !== null && Number(level[1]) >= 50) {
        s.errors++
        if (s.samples.length < 3) s.samples.push(line.slice(0, 400))
      } else if (level === null && line.trim() !== '' && s.samples.length < 3) {
        s.samples.push(line.slice(0, 400))
      }
    }
    out[name] = s
  }
  return out
}

if (isMainThread) {
  await main()
} else {
  const { default: Database } = await import('better-sqlite3')
  parentPort.postMessage(seedFile(workerData, Database))
}
