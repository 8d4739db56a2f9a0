import t, { type Test } from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { inflateSync } from 'node:zlib'
import type { Env } from '../src/config.js'
import { signUserSig } from '../src/auth/usersig.js'
import { CONFIG_VARS, tempDir, freePort, type TestContext } from './helper.js'
import { bytes, origin, sha256 } from './fixtures/media.js'
import { rawConnect, refusedWithin, requestHead, type RawConnection } from './fixtures/raw-http.js'


interface Child {
  proc: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Starts a TypeScript entry the way tap runs this file (its loader comes through execArgv); killed at teardown. */
function start (t: TestContext, args: string[], env: Env): Child {
  const base: Env = { ...process.env }
  for (const name of CONFIG_VARS) delete base[name]
  const proc = spawn(process.execPath, [...process.execArgv, ...args], { env: { ...base, ...env } })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  proc.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    proc.on('close', (code, signal) => resolve({ code, signal }))
  })
  return { proc, stdout: () => stdout, stderr: () => stderr, exited }
}

/** The exit of `child`, or 'timeout' after `ms` (the child is then killed). */
async function exitWithin (child: Child, ms: number): Promise<{ code: number | null, signal: NodeJS.Signals | null } | 'timeout'> {
  const timer = new AbortController()
  const timeout = sleep(ms, 'timeout' as const, { signal: timer.signal }).catch(() => 'cancelled' as const)
  const result = await Promise.race([child.exited, timeout])
  timer.abort()
  if (result === 'timeout' || result === 'cancelled') {
    child.proc.kill('SIGKILL')
    return 'timeout'
  }
  return result
}

/** Polls GET /health until 200, the process ends, or `ms` pass. */
async function waitHealthy (base: string, child: Child, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline && child.proc.exitCode === null) {
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) })
      if (res.status === 200) return true
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  return false
}

t.test('when the server runs as a process, then it serves, logs pino JSON without secrets and shuts down on SIGTERM', async t => {
  const dataDir = tempDir(t)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const server = start(t, ['src/server.ts'], { TIM_DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' })

  const healthy = await waitHealthy(base, server, 60_000)
  t.ok(healthy, `GET /health answered 200; stderr: ${server.stderr()}`)
  if (!healthy) return

  const health = await fetch(`${base}/health`)
  t.ok(health.headers.get('x-request-id'), 'x-request-id on the response')
  t.match(await health.json(), { status: 'ok' })

  const secret = JSON.parse(readFileSync(join(dataDir, 'secret.json'), 'utf8')) as { sdkappid: number, secret_key: string }
  t.type(secret.secret_key, 'string')

  const usersig = start(t, ['scripts/usersig.ts', 'alice', '600'], { TIM_DATA_DIR: dataDir })
  const sigExit = await exitWithin(usersig, 60_000)
  t.same(sigExit, { code: 0, signal: null }, `usersig exited 0; stderr: ${usersig.stderr()}`)
  const sigLines = usersig.stdout().split('\n').filter(l => l !== '')
  t.equal(sigLines.length, 1, 'one line on stdout')
  const sig = sigLines[0] ?? ''
  t.match(sig, /^[A-Za-z0-9*_-]+$/, 'Tencent base64')
  const doc = JSON.parse(inflateSync(Buffer.from(sig.replace(/_/g, '=').replace(/-/g, '/').replace(/\*/g, '+'), 'base64')).toString('utf8'))
  t.match(doc, { 'TLS.identifier': 'alice', 'TLS.sdkappid': secret.sdkappid, 'TLS.expire': 600 })

  const sent = await fetch(`${base}/conversations/c2c_bob/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sig}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message_elem_array: [{ elem_type: 0, text_elem_content: 'hi' }] }),
  })
  t.equal(sent.status, 200)
  t.match(await sent.json(), { message_sender: 'alice', message_conv_id: 'bob' })

  // Failures are logged too: neither may leak the UserSig.
  const invalid = await fetch(`${base}/conversations/c2c_bob/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sig}`, 'content-type': 'application/json' },
    body: '{}',
  })
  t.equal(invalid.status, 400, 'an invalid body is refused')
  await invalid.arrayBuffer()
  const refused = await fetch(`${base}/conversations/c2c_bob/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sig.slice(0, -8)}`, 'content-type': 'application/json' },
    body: '{}',
  })
  t.equal(refused.status, 401, 'a truncated UserSig is refused')
  await refused.arrayBuffer()

  server.proc.kill('SIGTERM')
  const exit = await exitWithin(server, 10_000)
  t.same(exit, { code: 0, signal: null }, 'exits 0 within 10 s of SIGTERM')

  const lines = server.stdout().split('\n').filter(l => l.trim() !== '')
  t.ok(lines.length >= 3, `several log lines, got ${lines.length}`)
  const records = lines.map(line => {
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {
      t.fail(`a stdout line is not JSON: ${line}`)
      return {}
    }
  })
  for (const r of records) {
    t.match(r, { level: Number, time: Number, msg: String }, 'a pino record')
  }
  t.ok(records.some(r => r.msg === 'timgate ready'), 'a ready line')
  t.ok(records.some(r => (r.req as { url?: string } | undefined)?.url === '/conversations/c2c_bob/messages'), 'the requests are logged')
  t.equal(server.stderr(), '', 'nothing on stderr')

  const logs = server.stdout() + server.stderr()
  t.notOk(logs.includes(sig), 'the UserSig never appears in the logs')
  t.notOk(logs.includes(secret.secret_key), 'the secret key never appears in the logs')
})

t.test('when the usersig command gets no or an invalid identifier, then it prints usage and exits 2', async t => {
  const dataDir = tempDir(t)
  const runs = [
    start(t, ['scripts/usersig.ts'], { TIM_DATA_DIR: dataDir }),
    start(t, ['scripts/usersig.ts', 'a'.repeat(33)], { TIM_DATA_DIR: dataDir }),
    start(t, ['scripts/usersig.ts', 'alice', 'soon'], { TIM_DATA_DIR: dataDir }),
  ]
  for (const run of runs) {
    t.same(await exitWithin(run, 60_000), { code: 2, signal: null })
    t.match(run.stderr(), /^usage: /m)
    t.equal(run.stdout(), '')
  }
})

const SDKAPPID = 1400000001
const SECRET_KEY = 'shutdown-test-key'

interface Draining {
  server: Child
  port: number
  dataDir: string
  /** bob's download of the element, started: its status and first body bytes have arrived. */
  download: RawConnection
}

/**
 * A gateway process whose alice → bob message carries a remote file served by `serve`;
 * bob's download of it is in flight (over a raw keep-alive connection) when this resolves.
 */
async function downloadInFlight (t: Test, serve: (req: IncomingMessage, res: ServerResponse) => void): Promise<Draining | undefined> {
  const o = await origin(t, serve)
  const dataDir = tempDir(t)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const server = start(t, ['src/server.ts'], {
    TIM_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    TIM_SDKAPPID: String(SDKAPPID),
    TIM_SECRET_KEY: SECRET_KEY,
    TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}`,
  })
  if (!await waitHealthy(base, server, 60_000)) {
    t.fail(`GET /health answered 200; stderr: ${server.stderr()}`)
    return undefined
  }
  const bearer = (user: string) => `Bearer ${signUserSig(SDKAPPID, SECRET_KEY, user, 600)}`
  const sent = await fetch(`${base}/conversations/c2c_bob/messages`, {
    method: 'POST',
    headers: { authorization: bearer('alice'), 'content-type': 'application/json' },
    body: JSON.stringify({ message_elem_array: [{ elem_type: 4, file_elem_file_name: 'big.bin', file_elem_file_size: 1, file_elem_url: `${o.base}/big.bin` }] }),
  })
  t.equal(sent.status, 200, 'the message is sent')
  const { message_msg_id: msgId } = await sent.json() as { message_msg_id: string }
  const download = await rawConnect(t, port)
  download.socket.write(requestHead('GET', `/conversations/c2c_alice/messages/${msgId}/elements/0/content`, { authorization: bearer('bob') }))
  const started = await download.until(res => res.body.length > 0, 30_000)
  t.equal(started?.status, 200, 'the download has started')
  return { server, port, dataDir, download }
}

t.test('when SIGTERM comes during a download, then it completes with all its bytes, new connections are refused, the process exits 0 and the database is closed', async t => {
  const data = bytes(512 * 1024)
  let release = () => {}
  const released = new Promise<void>(resolve => { release = resolve })
  const d = await downloadInFlight(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length })
    res.write(data.subarray(0, 1000))
    void released.then(() => res.end(data.subarray(1000)))
  })
  if (d === undefined) return
  const wal = join(d.dataDir, 'timgate.db-wal')
  t.ok(statSync(wal).size > 0, 'the running gateway has written to its WAL')
  // Clients open spare connections (fetch does, after an abort): one that sends nothing must not hold the exit.
  const spare = await rawConnect(t, d.port)

  d.server.proc.kill('SIGTERM')
  t.ok(await refusedWithin(d.port, 8000), 'a new connection is refused while the download drains')
  t.ok(await spare.closedWithin(5000), 'an open connection with no request in progress is closed')
  t.equal(d.server.proc.exitCode, null, 'the process waits for the download')

  release()
  const done = await d.download.until(res => res.complete, 15_000)
  t.equal(done?.body.length, data.length, 'the download completes')
  t.equal(sha256(done?.body ?? ''), sha256(data), 'with all its bytes')
  t.ok(await d.download.closedWithin(5000), 'then its keep-alive connection is closed, not left for keepAliveTimeout')
  t.same(await exitWithin(d.server, 15_000), { code: 0, signal: null }, 'exits 0', { stdout: d.server.stdout() })
  t.ok(!existsSync(wal) || statSync(wal).size === 0, 'the WAL is checkpointed away: SQLite was closed cleanly')
})

t.test('when a second signal comes while a request is stuck, then the process exits at once with code 1', async t => {
  const d = await downloadInFlight(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1_000_000 })
    res.write(bytes(1000))
  })
  if (d === undefined) return
  d.server.proc.kill('SIGTERM')
  t.ok(await refusedWithin(d.port, 8000), 'closing has begun')
  t.equal(d.server.proc.exitCode, null, 'the stuck download holds the graceful close')
  d.server.proc.kill('SIGINT')
  // The graceful close would give up only 10 s after SIGTERM; the second signal ends it now.
  t.same(await exitWithin(d.server, 5000), { code: 1, signal: null }, 'exits 1 soon after the second signal')
  const records = d.server.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { msg?: string })
  t.ok(records.some(r => r.msg === 'second SIGINT, exiting'), 'the forced exit is logged', { stdout: d.server.stdout() })
  t.notOk(records.some(r => /killed by timeout/.test(r.msg ?? '')), 'not the grace period running out')
})
