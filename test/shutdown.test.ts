import t, { type Test } from 'tap'
import { existsSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { signUserSig } from '../src/auth/usersig.js'
import { tempDir, freePort } from './helper.js'
import { bytes, origin, sha256 } from './fixtures/media.js'
import { exitWithin, start, waitHealthy, type Child } from './fixtures/process.js'
import { rawConnect, refusedWithin, requestHead, type RawConnection } from './fixtures/raw-http.js'

// The server process shutting down while a download is in flight: draining on SIGTERM, and a second signal.

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
  // The graceful close would give up 10 s after SIGTERM, also with code 1: what tells the
  // second signal's exit from that one is the log below, not how soon it came.
  t.same(await exitWithin(d.server, 30_000), { code: 1, signal: null }, 'exits 1 after the second signal')
  const records = d.server.stdout().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as { msg?: string })
  t.ok(records.some(r => r.msg === 'second SIGINT, exiting'), 'the forced exit is logged', { stdout: d.server.stdout() })
  t.notOk(records.some(r => /killed by timeout/.test(r.msg ?? '')), 'not the grace period running out')
})
