import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Webhook } from 'standardwebhooks'
import { signUserSig } from '../../src/auth/usersig.js'
import { freePort, tempDir, testDatabaseUrl, text } from '../helper.js'
import { start, waitHealthy, type Child } from '../fixtures/process.js'
import { receiver } from '../fixtures/receiver.js'

const MESSAGES = 20

t.test('when the gateway is killed with SIGKILL while deliveries are owed, then the next start delivers every one of them within 30 s', async t => {
  const r = await receiver(t)
  r.answer = () => ({ status: 503 })
  const dataDir = tempDir(t)
  const databaseUrl = testDatabaseUrl(t)
  const env = {
    TIM_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    TIM_WEBHOOK_ALLOWED_HOSTS: r.host,
    TS_NODE_TRANSPILE_ONLY: '1',
    ...(databaseUrl !== undefined && { DATABASE_URL: databaseUrl }),
  }
  const up = async (): Promise<{ base: string, child: Child }> => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const child = start(t, ['src/server.ts'], { ...env, PORT: String(port) })
    t.ok(await waitHealthy(base, child, 120_000), `the server came up; stderr: ${child.stderr()}`)
    return { base, child }
  }

  const first = await up()
  const secret = JSON.parse(readFileSync(join(dataDir, 'secret.json'), 'utf8')) as { sdkappid: number, secret_key: string }
  const auth = (user: string) => ({ authorization: `Bearer ${signUserSig(secret.sdkappid, secret.secret_key, user, 3600)}`, 'content-type': 'application/json' })
  const created = await fetch(`${first.base}/webhooks`, { method: 'POST', headers: auth('administrator'), body: JSON.stringify({ url: r.url, event_types: ['message'] }) })
  t.equal(created.status, 201)
  const hook = await created.json() as { id: string, secret: string }
  const ids: string[] = []
  for (let i = 0; i < MESSAGES; i++) {
    const res = await fetch(`${first.base}/conversations/c2c_peer${i % 4}/messages`, { method: 'POST', headers: auth('alice'), body: JSON.stringify(text(`m${i}`)) })
    ids.push((await res.json() as { message_msg_id: string }).message_msg_id)
  }
  // Each of the 4 conversations has had its first delivery refused: all 20 are owed.
  await r.wait(4, 30_000)
  first.child.proc.kill('SIGKILL')
  await first.child.exited
  r.answer = () => ({ status: 200 })
  const before = r.hits.length

  const second = await up()
  const deadline = Date.now() + 30_000
  const delivered = () => new Set(r.hits.slice(before).map(h => String(h.json.event_data.message_msg_id)))
  while (delivered().size < MESSAGES && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  t.same([...delivered()].sort(), [...ids].sort(), 'every owed delivery came after the restart')
  const verifier = new Webhook(hook.secret)
  t.ok(r.hits.slice(before).every(h => verifier.verify(h.body, h.headers as Record<string, string>) !== undefined), 'each signed afresh')
  // Per conversation, in the order sent.
  for (let p = 0; p < 4; p++) {
    const order = r.hits.slice(before).filter(h => h.json.event_data.message_conv_id === `peer${p}`).map(h => String(h.json.event_data.message_msg_id))
    t.same([...new Set(order)], ids.filter((_, i) => i % 4 === p), `peer${p}: in order`)
  }
  const state = await (await fetch(`${second.base}/webhooks/${hook.id}`, { headers: auth('administrator') })).json() as { pending: number, last_error: string }
  t.equal(state.pending, 0)
  t.equal(state.last_error, 'answered HTTP 503', 'the last error survives')
  second.child.proc.kill('SIGTERM')
  await second.child.exited
})
