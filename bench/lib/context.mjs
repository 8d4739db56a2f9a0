// The context a run gives its scenarios: the temp dir, the knobs, the servers in child
// processes (started, tracked, stopped whatever happens), UserSigs and setup requests, and
// the measuring helpers of measure.mjs. Scenarios use nothing else of the driver.
import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { createInterface } from 'node:readline'
import { URL } from 'node:url'
import { freePort, stop, waitFor } from './children.mjs'
import { call, mapLimit } from './http.mjs'
import { measureHelpers } from './measure.mjs'
import { paced } from './paced.mjs'
import { sampleRss } from './proc.mjs'

export const root = new URL('../..', import.meta.url).pathname
const baselineScript = new URL('../baselines/index.mjs', import.meta.url).pathname
export const APP_ID = 1400000001
const KEY = 'bench-run-secret'
/** The identity all the load comes from (the naive baselines take it as theirs). */
export const SENDER = 'alice'

export async function createContext (suite, knobs) {
  const { signUserSig } = await import('../../dist/src/auth/usersig.js')
  const dir = mkdtempSync(join(tmpdir(), `timgate-bench-${suite.name}-`))
  const children = new Set()
  const cleanups = []
  const fds = []
  const logFiles = {}
  const log = (s) => process.stdout.write(`${s}\n`)
  let cleaned

  const ctx = {
    suite,
    knobs,
    dir,
    root,
    log,
    /** The suite's shared servers that are up, by name. */
    servers: {},
    /** Every measured run, derived figures (name, shown, target, met, valid), lines for under the table, extra fields of the results file. */
    runs: [],
    derived: [],
    footer: [],
    output: {},
    /** Requests answered per server process (CPU profiles are divided by them). */
    answered: {},
    logFiles,
    /** A child process (or worker) that the cleanup stops. */
    track (child) {
      children.add(child)
      child.once('exit', () => children.delete(child))
      return child
    },
    /** `fn` runs at the cleanup, after the children are stopped (latest first). */
    onCleanup (fn) {
      cleanups.unshift(fn)
    },
    /** Stops every child still running (a scenario's own servers write their CPU profiles as they exit). */
    stopChildren: () => Promise.all([...children].map(c => c.terminate?.() ?? stop(c))),
    cleanup: () => (cleaned ??= (async () => {
      await ctx.stopChildren()
      for (const fn of cleanups) await fn().catch(err => process.stderr.write(`cleanup: ${err.message}\n`))
      for (const fd of fds.splice(0)) closeSync(fd)
      if (knobs.keep) log(`kept ${dir}`)
      else rmSync(dir, { recursive: true, force: true })
    })()),
    /** Where server `name`'s stdout goes: its own file in the temp dir, or BENCH_LOG. */
    logFd (name) {
      const path = knobs.logTo === 'file' ? join(dir, `${name}.log`) : knobs.logTo
      if (knobs.logTo === 'file') logFiles[name] = path
      const fd = openSync(path, 'a')
      fds.push(fd)
      return fd
    },
    /** Node's options for a server process: BENCH_NODE_ARGS, and --cpu-prof into the temp dir under BENCH_CPU_PROF=1. */
    nodeArgs: (name) => [...knobs.nodeArgs, ...(knobs.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'cpu-prof', name)}`] : [])],

    /**
     * The gateway as `npm start` runs it (BENCH_GATEWAY_NODE_ARGS aside), on a free port;
     * the suite's store settings (suite.gatewayEnv), then `env`. `name` names its log and
     * data dir; `as` its rows (default `name`). Resolves once it answers /health.
     */
    async startGateway (name, { env = {}, as = name } = {}) {
      const port = await freePort()
      const gwEnv = {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        TIM_DATA_DIR: join(dir, name),
        TIM_SDKAPPID: String(APP_ID),
        TIM_SECRET_KEY: KEY,
        // The limiters' code still runs on every request, but does not throttle the one
        // identity all the load comes from (the defaults would answer most with 429).
        TIM_RATE_LIMIT: '1000000',
        TIM_DOWNLOAD_RATE_LIMIT: '1000000',
        TIM_DOWNLOAD_CONCURRENCY: '100000',
        // Imports and batches from that one identity, 10 connections at once: admission off
        // (the starvation scenario turns it back on, as it measures it).
        TIM_HEAVY_CONCURRENCY: '0',
        LOG_LEVEL: knobs.logLevel,
        ...await suite.gatewayEnv(ctx, name),
        ...env,
      }
      for (const [k, v] of Object.entries(gwEnv)) if (v === undefined) delete gwEnv[k]
      const child = ctx.track(spawn(process.execPath, [...knobs.gatewayNodeArgs, ...ctx.nodeArgs(name), join(root, 'dist/src/server.js')],
        { cwd: root, env: gwEnv, stdio: ['ignore', ctx.logFd(name), 'pipe'] }))
      // Its stderr (start-up errors, anything printed outside the logger) is shown, marked as its.
      createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => process.stderr.write(`[${name} stderr] ${line}\n`))
      const base = `http://127.0.0.1:${port}`
      await waitFor(`${base}/health`, child)
      return { name: as, logName: name, child, pid: child.pid, base, port }
    },
    /** A baseline server (bench/baselines/<mode>.mjs), named like startGateway's. */
    async startBaseline (mode, name, { env = {}, as = name } = {}) {
      const child = ctx.track(spawn(process.execPath, [...ctx.nodeArgs(name), baselineScript, mode], {
        env: { ...process.env, BENCH_LOG_LEVEL: knobs.logLevel, BENCH_SENDER: SENDER, ...env },
        stdio: ['ignore', ctx.logFd(name), 'inherit', 'ipc'],
      }))
      const exited = new Promise((resolve, reject) => child.once('exit', (code) => reject(new Error(`${name} exited with ${code}`))))
      const port = await Promise.race([new Promise(resolve => child.once('message', resolve)), exited])
      const base = `http://127.0.0.1:${port}`
      await waitFor(`${base}/health`, child)
      return { name: as, logName: name, child, pid: child.pid, base, port }
    },
    stopServer: (server) => stop(server?.child),

    /** A UserSig for `user`, valid a week; `headers` are the sender's JSON request headers. */
    sign: (user) => signUserSig(APP_ID, KEY, user, 86400 * 7),
    headers: undefined,
    /** One setup request as the sender (JSON); throws unless it answers `expect` (200). */
    call: (server, method, path, body, opts = {}) => call(server, method, path, body, { headers: ctx.headers, ...opts }),
    mapLimit,
    sampleRss,
    paced,
  }
  ctx.headers = { authorization: `Bearer ${ctx.sign(SENDER)}`, 'content-type': 'application/json' }
  Object.assign(ctx, measureHelpers(ctx))
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the servers and removing ${dir}\n`)
      void ctx.cleanup().finally(() => process.exit(130))
    })
  }
  return ctx
}
