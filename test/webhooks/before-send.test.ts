import t from 'tap'
import { Webhook } from 'standardwebhooks'
import { build, text, type TestApp, type TestContext } from '../helper.js'
import { receiver, type Receiver } from '../fixtures/receiver.js'

const ADMIN = 'administrator'

async function withHook (t: TestContext, env: Record<string, string> = {}): Promise<{ g: TestApp, r: Receiver, secret: string }> {
  const r = await receiver(t, '/before-send')
  const g = await build(t, { TIM_WEBHOOK_ALLOWED_HOSTS: r.host, ...env })
  const res = await g.call(ADMIN, 'POST', '/webhooks', { url: r.url, event_types: ['before_send'] })
  if (res.statusCode !== 201) throw new Error(`POST /webhooks: ${res.statusCode} ${res.body}`)
  return { g, r, secret: res.json<{ secret: string }>().secret }
}

const metric = async (g: TestApp, result: string) =>
  Number(new RegExp(`timgate_before_send_total\\{result="${result}"\\} (\\d+)`).exec((await g.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1])

t.test('when a before-send hook answers {}, then it saw the message as it would be stored, signed, and the message is stored as is', async t => {
  const { g, r, secret } = await withHook(t)
  const res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('hi', { message_rand: 7, message_cloud_custom_str: 'c' }))
  t.equal(res.statusCode, 200)
  const [hit] = r.hits
  t.ok(new Webhook(secret).verify(hit!.body, hit!.headers as Record<string, string>), 'verified with standardwebhooks')
  t.match(hit!.headers['webhook-id'], /^msg_/)
  t.match(hit!.json, {
    event_type: 'before_send',
    event_user: 'alice',
    event_data: { message_elem_array: [{ elem_type: 0, text_elem_content: 'hi' }], message_conv_id: 'bob', message_conv_type: 1, message_sender: 'alice', message_rand: 7, message_cloud_custom_str: 'c', message_server_time: Number },
  })
  for (const key of ['message_seq', 'message_msg_id', 'message_unique_id']) t.notOk(key in hit!.json.event_data, `no ${key}`)
  t.equal(await metric(g, 'ok'), 1)
  // Another send makes another call, with another id; online messages make none.
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('again', { message_is_online_msg: true }))
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('again'))
  t.equal(r.hits.length, 2)
  t.not(r.hits[1]!.headers['webhook-id'], hit!.headers['webhook-id'])
})

t.test('when the hook rejects, then nothing is stored and the sender gets 403 with the hook\'s code and desc, or 120001', async t => {
  const { g, r } = await withHook(t)
  r.answer = (hit) => ({ status: 200, body: JSON.stringify(hit.json.event_data.message_cloud_custom_str === 'own' ? { action: 'reject', code: 555, desc: 'no swearing' } : { action: 'reject' }) })
  let res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('bad', { message_cloud_custom_str: 'own' }))
  t.equal(res.statusCode, 403)
  t.same(res.json(), { code: 555, desc: 'no swearing' })
  res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('bad'))
  t.match(res.json(), { code: 120001 })
  res = await g.call(ADMIN, 'POST', '/messages/batch', { msg_batch_send_param_identifier_array: ['bob', 'carol'], msg_batch_send_param_msg: text('bulk') }, { 'x-tim-on-behalf-of': 'alice' })
  t.equal(res.statusCode, 403, 'a batch is refused whole')
  t.match(r.hits.at(-1)!.json, { event_user: 'alice', msg_batch_send_param_identifier_array: ['bob', 'carol'] })
  t.notOk('message_conv_id' in r.hits.at(-1)!.json.event_data)
  t.same((await g.call('bob', 'GET', '/conversations/c2c_alice/messages')).json(), [], 'nothing stored')
  t.equal(await metric(g, 'rejected'), 3)
})

t.test('when the hook modifies, then its elements are stored, checked like a client\'s (invalid: 502 6009)', async t => {
  const { g, r } = await withHook(t)
  let answer: unknown = { action: 'modify', message_elem_array: [{ elem_type: 0, text_elem_content: '***' }], message_cloud_custom_str: 'moderated' }
  r.answer = () => ({ status: 200, body: JSON.stringify(answer) })
  const res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('darn'))
  t.match(res.json(), { message_elem_array: [{ text_elem_content: '***' }], message_cloud_custom_str: 'moderated' })
  const batch = await g.call('alice', 'POST', '/messages/batch', { msg_batch_send_param_identifier_array: ['bob', 'carol'], msg_batch_send_param_msg: text('darn') })
  t.match(batch.json(), [{ msg_batch_send_result_msg: { message_elem_array: [{ text_elem_content: '***' }] } }, { msg_batch_send_result_msg: { message_elem_array: [{ text_elem_content: '***' }] } }])
  t.equal(await metric(g, 'modified'), 2)
  for (const bad of [
    { action: 'modify', message_elem_array: [] },
    { action: 'modify', message_elem_array: [{ elem_type: 5 }] },
    { action: 'modify' },
    { action: 'modify', message_elem_array: [{ elem_type: 0, text_elem_content: 'x'.repeat(13_000) }] },
  ]) {
    answer = bad
    const failed = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('darn'))
    t.equal(failed.statusCode, 502, JSON.stringify(bad).slice(0, 80))
    t.match(failed.json(), { code: 6009, desc: /before-send webhook's modified message is invalid/ })
  }
  t.equal((await g.call('bob', 'GET', '/conversations/c2c_alice/messages')).json<unknown[]>().length, 2, 'only the send and the batch that were allowed')
})

t.test('when the hook fails or answers nonsense, then the message is stored as is and the failure counted', async t => {
  const { g, r } = await withHook(t)
  const answers = [
    { status: 500 },
    { status: 200, body: 'not json' },
    { status: 200, body: '[1]' },
    { status: 200, body: '{"action":"shrug"}' },
    { status: 200, body: 'not json', length: true },
    { status: 200, body: 'x'.repeat(1024 * 1024 + 10) },
    // More than 1 MiB stated up front: dropped unread (and the process lives on).
    { status: 200, body: 'x'.repeat(1024 * 1024 + 10), length: true },
  ]
  let i = 0
  r.answer = () => answers[i++]!
  for (let n = 0; n < answers.length; n++) {
    const res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`m${n}`))
    t.equal(res.statusCode, 200, `send ${n} stored`)
  }
  t.equal(await metric(g, 'failed') + await metric(g, 'timeout'), 7, 'each counted (a loaded machine may turn one into a timeout)')
  t.equal((await g.call('bob', 'GET', '/conversations/c2c_alice/messages')).json<unknown[]>().length, 7)
})

t.test('when the hook does not answer within TIM_BEFORE_SEND_TIMEOUT_MS, then the message is stored as is and the timeout counted', async t => {
  const { g, r } = await withHook(t, { TIM_BEFORE_SEND_TIMEOUT_MS: '200' })
  r.answer = () => 'hang'
  const res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('late'))
  t.equal(res.statusCode, 200)
  t.equal(await metric(g, 'timeout'), 1)
  // Its head in time, then a body that never ends, a byte well within each 200 ms: only
  // the whole call's deadline ends it.
  r.answer = () => ({ dripEveryMs: 50 })
  const dripped = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('dripped'))
  t.equal(dripped.statusCode, 200)
  t.equal(await metric(g, 'timeout'), 2)
})

t.test('when the hook is deleted, then sends no longer call it', async t => {
  const { g, r } = await withHook(t)
  const [hook] = (await g.call(ADMIN, 'GET', '/webhooks')).json<Array<{ id: string }>>()
  t.equal((await g.call(ADMIN, 'DELETE', `/webhooks/${hook!.id}`)).statusCode, 204)
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('free'))
  t.equal(r.hits.length, 0)
  t.notOk(g.app.beforeSend.active)
})
