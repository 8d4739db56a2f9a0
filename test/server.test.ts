import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { inflateSync } from 'node:zlib'
import { tempDir, freePort } from './helper.js'
import { exitWithin, start, waitHealthy } from './fixtures/process.js'

// The server and the usersig command as processes. Shutdown while requests are in flight: test/shutdown.test.ts.

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

  // Lines are written in batches (src/log.ts): a quiet server still writes its last ones
  // out within the flush interval, without exiting.
  const logged = () => server.stdout().includes('"url":"/conversations/c2c_bob/messages"') && server.stdout().includes('"statusCode":401')
  for (const deadline = Date.now() + 30_000; !logged() && Date.now() < deadline;) await sleep(50)
  t.ok(logged(), 'the last requests are logged while the server runs on', { stdout: server.stdout() })

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
  const ready = records.find(r => typeof r.msg === 'string' && r.msg.startsWith('timgate ready on http://'))
  t.ok(ready, 'a ready line')
  t.match(ready?.docs, /^http:\/\/127\.0\.0\.1:\d+\/docs$/, 'that says where the API reference is')
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
