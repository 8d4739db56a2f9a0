import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Webhook } from 'standardwebhooks'
import { build, testConfig, text, type TestApp, type TestContext } from '../helper.js'
import { receiver, type Receiver } from '../fixtures/receiver.js'
import { PER_HOOK_IN_FLIGHT } from '../../src/webhooks/deliverer.js'

const ADMIN = 'administrator'

/** A gateway on a clock the test moves (ms), allowed to call `r`. */
async function gateway (t: TestContext, r: Receiver, env: Record<string, string> = {}) {
  const clock = { ms: Date.now() }
  const g = await build(t, { TIM_WEBHOOK_ALLOWED_HOSTS: r.host, ...env }, { nowMs: () => clock.ms })
  return { g, clock }
}

const register = async (g: TestApp, body: Record<string, unknown>) => {
  const res = await g.call(ADMIN, 'POST', '/webhooks', body)
  if (res.statusCode !== 201) throw new Error(`POST /webhooks: ${res.statusCode} ${res.body}`)
  return res.json<{ id: string, secret: string, url: string, event_types: string[], created_at: number }>()
}

/** Delivers what is due now and waits until the deliverer has nothing left to do. */
const settle = async (g: TestApp) => {
  g.app.webhooks.deliverer.kick()
  await g.app.webhooks.deliverer.idle()
}

t.test('when an event commits, then it is POSTed as its envelope, signed so that the standardwebhooks package verifies it unchanged', async t => {
  const r = await receiver(t)
  const { g } = await gateway(t, r)
  const hook = await register(g, { url: r.url })
  t.match(hook, { id: /^wh_/, url: r.url, event_types: ['message', 'revoke', 'read_receipt'], secret: /^whsec_[A-Za-z0-9+/]+=*$/ })
  const sent = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('hello'))).json<{ message_msg_id: string }>()
  const [hit] = await r.wait(1)
  const verified = new Webhook(hook.secret).verify(hit!.body, hit!.headers as Record<string, string>) as Record<string, unknown>
  t.match(verified, { event_type: 'message', event_user: 'alice', event_data: { message_msg_id: sent.message_msg_id, message_conv_id: 'bob', message_is_from_self: true } })
  t.equal(hit!.headers['webhook-id'], hit!.json.event_id, 'webhook-id is the event_id')
  t.match(hit!.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/)
  t.equal(hit!.headers['content-type'], 'application/json')
  t.throws(() => new Webhook(hook.secret).verify(hit!.body.replace('hello', 'HELLO'), hit!.headers as Record<string, string>), 'a changed body does not verify')

  // A read receipt goes as the peer hears it; a revoke as the sender sees its tombstone.
  await g.call('bob', 'POST', '/conversations/c2c_alice/read', {})
  await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', { message_msg_id: sent.message_msg_id })
  const [, receipt, revoke] = await r.wait(3)
  t.match(receipt!.json, { event_type: 'read_receipt', event_user: 'alice', event_data: { msg_receipt_conv_id: 'bob', msg_receipt_msg_id: sent.message_msg_id } })
  t.match(revoke!.json, { event_type: 'revoke', event_user: 'alice', event_data: { message_status: 6, message_elem_array: [] } })
  t.ok(Number(revoke!.json.event_id) > Number(receipt!.json.event_id), 'in the order of the log')
})

t.test('when a webhook subscribes to some types, then only those come, and a secret given is the one used', async t => {
  const r = await receiver(t)
  const { g } = await gateway(t, r)
  const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`
  const hook = await register(g, { url: r.url, event_types: ['revoke', 'revoke'], secret })
  t.same(hook.event_types, ['revoke'])
  t.equal(hook.secret, secret)
  const sent = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('x'))).json<{ message_msg_id: string }>()
  await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', { message_msg_id: sent.message_msg_id })
  await settle(g)
  const hits = await r.wait(1)
  t.same(hits.map(h => h.json.event_type), ['revoke'])
  t.ok(new Webhook(secret).verify(hits[0]!.body, hits[0]!.headers as Record<string, string>))
})

t.test('when the receiver fails, then the delivery is retried on the schedule, signed afresh, and GET shows pending and the last error', async t => {
  const r = await receiver(t)
  const { g, clock } = await gateway(t, r)
  const hook = await register(g, { url: r.url, event_types: ['message'] })
  let fail = true
  r.answer = () => fail ? { status: 503 } : { status: 204 }
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('one'))
  await r.wait(1)
  await settle(g)
  let state = (await g.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).json<Record<string, unknown>>()
  t.match(state, { id: hook.id, pending: 1, last_success_at: null, last_error: 'answered HTTP 503', last_error_at: Number })
  t.notOk('secret' in state, 'the secret is shown only once')
  // The backlog gauges come with the next tick (once a second).
  let gauges = ''
  for (let i = 0; i < 100 && !/timgate_webhook_pending 1\n/.test(gauges); i++) {
    await new Promise(resolve => setTimeout(resolve, 50))
    gauges = (await g.app.inject({ method: 'GET', url: '/metrics' })).body
  }
  t.match(gauges, /timgate_webhook_pending 1\n/)
  t.match(gauges, /timgate_webhook_oldest_pending_seconds \d+\n/)

  await settle(g)
  t.equal(r.hits.length, 1, 'not before its time')
  clock.ms += 10_000
  await settle(g)
  t.equal(r.hits.length, 2, 'the first retry within 10 s')
  clock.ms += 50_000
  await settle(g)
  t.equal(r.hits.length, 3, 'the second within 60 s of the first failure')
  t.equal(r.hits[2]!.headers['webhook-id'], r.hits[0]!.headers['webhook-id'], 'the same webhook-id')
  fail = false
  clock.ms += 10 * 60_000
  await settle(g)
  t.equal(r.hits.length, 4)
  state = (await g.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).json<Record<string, unknown>>()
  t.match(state, { pending: 0, last_success_at: Number })
  const metrics = (await g.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /timgate_webhook_deliveries_total\{result="failed"\} 3/)
  t.match(metrics, /timgate_webhook_deliveries_total\{result="ok"\} 1/)
  t.match(metrics, /timgate_webhook_retries_total 3/)
})

t.test('when a message is revoked while its delivery is being retried, then the retry sends the tombstone, before the revoke', async t => {
  const r = await receiver(t)
  const { g, clock } = await gateway(t, r)
  await register(g, { url: r.url })
  let fail = true
  r.answer = () => fail ? { status: 500 } : { status: 200 }
  const sent = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('secret words'))).json<{ message_msg_id: string }>()
  await r.wait(1)
  await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', { message_msg_id: sent.message_msg_id })
  await settle(g)
  t.equal(r.hits.length, 1, 'the revoke waits behind its message')
  fail = false
  clock.ms += 10_000
  await settle(g)
  await r.wait(3)
  const [, message, revoke] = r.hits
  t.match(message!.json, { event_type: 'message', event_data: { message_msg_id: sent.message_msg_id, message_status: 6, message_elem_array: [] } })
  t.notOk(message!.body.includes('secret words'), 'the content is gone')
  t.match(revoke!.json, { event_type: 'revoke' })
})

t.test('when a delivery has failed for 24 h, then it is dropped, counted, and its webhook says so', async t => {
  const r = await receiver(t)
  const { g, clock } = await gateway(t, r)
  const hook = await register(g, { url: r.url })
  r.answer = () => ({ status: 500 })
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('doomed'))
  await r.wait(1)
  const start = clock.ms
  while (clock.ms - start <= 24 * 3_600_000 + 3_600_000) {
    clock.ms += 3_600_000
    await settle(g)
  }
  const state = (await g.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).json<{ pending: number, last_error: string }>()
  t.equal(state.pending, 0)
  t.match(state.last_error, /^dropped after failing for 24 h/)
  t.ok(r.hits.length >= 25, `tried for 24 h: ${r.hits.length} attempts`)
  t.match((await g.app.inject({ method: 'GET', url: '/metrics' })).body, /timgate_webhook_dropped_total 1/)
})

t.test('when one endpoint hangs, then another gets every event and sends answer as usual', async t => {
  const slow = await receiver(t)
  const fast = await receiver(t)
  const { g } = await gateway(t, fast, { TIM_WEBHOOK_ALLOWED_HOSTS: `${slow.host},${fast.host}`, TIM_WEBHOOK_TIMEOUT_MS: '60000' })
  slow.answer = () => 'hang'
  await register(g, { url: slow.url })
  await register(g, { url: fast.url })
  const peers = Array.from({ length: PER_HOOK_IN_FLIGHT + 28 }, (_, i) => `p${i}`)
  const answers = await Promise.all(peers.map(p => g.call('alice', 'POST', `/conversations/c2c_${p}/messages`, text(p))))
  t.same(answers.map(a => a.statusCode), peers.map(() => 200), 'every send answered')
  await fast.wait(peers.length)
  await slow.wait(PER_HOOK_IN_FLIGHT)
  await sleep(200)
  t.equal(slow.hits.length, PER_HOOK_IN_FLIGHT, 'the hanging endpoint holds its own slots, no more')
})

t.test('when a webhook is deleted, then nothing more is delivered to it, retries included', async t => {
  const r = await receiver(t)
  const { g, clock } = await gateway(t, r)
  const hook = await register(g, { url: r.url })
  r.answer = () => ({ status: 500 })
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('one'))
  await r.wait(1)
  await settle(g)
  t.equal((await g.call(ADMIN, 'DELETE', `/webhooks/${hook.id}`)).statusCode, 204)
  t.equal((await g.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).statusCode, 404)
  t.equal((await g.call(ADMIN, 'DELETE', `/webhooks/${hook.id}`)).statusCode, 404)
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('two'))
  clock.ms += 60_000
  await settle(g)
  t.equal(r.hits.length, 1)
})

t.test('when an endpoint does not answer in time, then the attempt is a timeout, counted, and retried', async t => {
  const r = await receiver(t)
  const { g } = await gateway(t, r, { TIM_WEBHOOK_TIMEOUT_MS: '200' })
  const hook = await register(g, { url: r.url })
  r.answer = () => 'hang'
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('slow'))
  await r.wait(1)
  await settle(g)
  t.match((await g.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).json(), { pending: 1, last_error: 'no answer within 200 ms' })
  t.match((await g.app.inject({ method: 'GET', url: '/metrics' })).body, /timgate_webhook_deliveries_total\{result="timeout"\} 1/)
})

t.test('when a webhook host name resolves to a loopback address, then the connect-time guard refuses each attempt', async t => {
  const r = await receiver(t)
  const port = r.host.split(':')[1]!
  const { g } = await gateway(t, r, { TIM_WEBHOOK_ALLOWED_HOSTS: `localhost:${port}` })
  const hook = await register(g, { url: `http://localhost:${port}/hook` })
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('x'))
  for (let i = 0; i < 200 && (await g.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).json<{ last_error: string | null }>().last_error === null; i++) await settle(g)
  t.match((await g.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).json(), { pending: 1, last_error: /resolves to .*loopback/ })
  t.equal(r.hits.length, 0, 'never contacted')
})

t.test('when the allow-list no longer names a webhook\'s host, then its deliveries fail (URLs are judged again at each delivery)', async t => {
  const r = await receiver(t)
  const config = testConfig(t, { TIM_WEBHOOK_ALLOWED_HOSTS: r.host })
  const first = await build(t, {}, { config })
  const hook = await register(first, { url: r.url })
  await first.app.close()
  const second = await build(t, {}, { config: { ...config, webhookAllowedHosts: [] } })
  await second.call('alice', 'POST', '/conversations/c2c_bob/messages', text('x'))
  for (let i = 0; i < 200 && (await second.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).json<{ last_error: string | null }>().last_error === null; i++) await settle(second)
  t.match((await second.call(ADMIN, 'GET', `/webhooks/${hook.id}`)).json(), { pending: 1, last_error: /^webhook URL refused: 127\.0\.0\.1:\d+ is a loopback address/ })
  t.equal(r.hits.length, 0)
})
