import t from 'tap'
import { build, text, type TestApp } from '../helper.js'
import { seed } from '../fixtures/seed.js'

const BATCH = '/messages/batch'

type Msg = Record<string, unknown> & { message_msg_id: string, message_seq: number, message_conv_id: string, message_sender: string }
interface Result {
  msg_batch_send_result_identifier: string
  msg_batch_send_result_code: number
  msg_batch_send_result_desc: string
  msg_batch_send_result_msg?: Msg
}

const batch = (recipients: unknown[], msg: unknown = text('to all')) => ({
  msg_batch_send_param_identifier_array: recipients,
  msg_batch_send_param_msg: msg,
})

/** Everything `user` can list in its C2C thread with `peer`, oldest first. */
async function thread (g: TestApp, user: string, peer: string): Promise<Msg[]> {
  const res = await g.call(user, 'GET', `/conversations/c2c_${encodeURIComponent(peer)}/messages?count=100&is_forward=true`)
  if (res.statusCode !== 200) throw new Error(`listing c2c_${peer} as ${user}: ${res.statusCode} ${res.body}`)
  return res.json()
}

t.test('when the seed\'s batch example is sent verbatim, then each recipient gets the message with its own result', async t => {
  const g = await build(t)
  const before = Math.floor(Date.now() / 1000)
  const res = await g.app.inject({ method: 'POST', url: BATCH, headers: { ...g.as('user1'), 'content-type': 'application/json' }, payload: seed.batchSend })
  t.equal(res.statusCode, 200)
  const results: Result[] = res.json()
  t.equal(results.length, 2)
  t.same(results.map(r => r.msg_batch_send_result_identifier), ['user2', 'user3'], 'one result per recipient, in request order')
  for (const r of results) {
    const to = r.msg_batch_send_result_identifier
    t.equal(r.msg_batch_send_result_code, 0, to)
    t.equal(r.msg_batch_send_result_desc, '', to)
    const m = r.msg_batch_send_result_msg!
    t.ok(m, `${to}: the message`)
    t.equal(m.message_conv_id, to, `${to}: conv id is the recipient, from the sender's side`)
    t.equal(m.message_conv_type, 1)
    t.equal(m.message_seq, 1, `${to}: first message of that thread`)
    t.equal(m.message_sender, 'user1')
    t.equal(m.message_status, 2)
    t.equal(m.message_is_from_self, true)
    t.equal(m.message_client_time, 1551340614, 'client time kept')
    t.ok((m.message_server_time as number) >= before, 'server time is the server\'s')
    t.same(m.message_elem_array, [{ elem_type: 0, text_elem_content: 'this is batch send msg' }])
  }
  t.not(results[0]!.msg_batch_send_result_msg!.message_msg_id, results[1]!.msg_batch_send_result_msg!.message_msg_id, 'one message per recipient')
  for (const [i, to] of ['user2', 'user3'].entries()) {
    const seen = await thread(g, to, 'user1')
    t.equal(seen.length, 1, `${to} sees one message`)
    t.equal(seen[0]!.message_msg_id, results[i]!.msg_batch_send_result_msg!.message_msg_id, `${to}: the result's message`)
    t.equal(seen[0]!.message_conv_id, 'user1', `${to}: seen from its own side`)
    t.equal(seen[0]!.message_is_from_self, false)
    t.equal(seen[0]!.message_is_read, false)
    t.same(seen[0]!.message_elem_array, [{ elem_type: 0, text_elem_content: 'this is batch send msg' }])
  }
  t.same(await thread(g, 'user2', 'user3'), [], 'recipients are not put in touch with each other')
  const next = await g.call('user2', 'POST', '/conversations/c2c_user1/messages', text('reply'))
  t.equal(next.json().message_seq, 2, 'the batch message took seq 1 of the shared thread')
})

t.test('when recipients repeat, then they collapse to one result and one message each', async t => {
  const g = await build(t)
  const res = await g.call('alice', 'POST', BATCH, batch(['a', 'b', 'a', 'a', 'b']))
  t.equal(res.statusCode, 200)
  const results: Result[] = res.json()
  t.same(results.map(r => r.msg_batch_send_result_identifier), ['a', 'b'])
  t.same(results.map(r => r.msg_batch_send_result_code), [0, 0])
  t.equal((await thread(g, 'a', 'alice')).length, 1, 'a has one message')
  t.equal((await thread(g, 'b', 'alice')).length, 1, 'b has one message')
})

t.test('when one recipient is invalid, then it gets its own 7003 result and the others succeed', async t => {
  const g = await build(t)
  const long = 'u'.repeat(33)
  const res = await g.call('alice', 'POST', BATCH, batch(['bob', long, 'new\nline', '', 'carol', 'caf\u00e9']))
  t.equal(res.statusCode, 200)
  const results: Result[] = res.json()
  t.same(results.map(r => r.msg_batch_send_result_identifier), ['bob', long, 'new\nline', '', 'carol', 'caf\u00e9'], 'in request order')
  t.same(results.map(r => r.msg_batch_send_result_code), [0, 7003, 7003, 7003, 0, 7003])
  for (const r of results) {
    if (r.msg_batch_send_result_code === 0) {
      t.equal(r.msg_batch_send_result_desc, '')
      t.equal(r.msg_batch_send_result_msg?.message_conv_id, r.msg_batch_send_result_identifier)
    } else {
      t.type(r.msg_batch_send_result_desc, 'string')
      t.not(r.msg_batch_send_result_desc, '', 'the desc says what is wrong')
      t.notOk('msg_batch_send_result_msg' in r, 'no message for a failed recipient')
    }
  }
  t.same((await thread(g, 'bob', 'alice')).map(m => m.message_seq), [1])
  t.same((await thread(g, 'carol', 'alice')).map(m => m.message_seq), [1])
  const onlyBad = await g.call('alice', 'POST', BATCH, batch([long]))
  t.equal(onlyBad.statusCode, 200, 'all recipients invalid is still per-recipient results')
  t.same(onlyBad.json().map((r: Result) => r.msg_batch_send_result_code), [7003])
})

t.test('when there are no recipients or more than 500, then 400 with 90011 and nothing is written', async t => {
  const g = await build(t)
  const none = await g.call('alice', 'POST', BATCH, batch([]))
  t.equal(none.statusCode, 400)
  t.equal(none.json().code, 90011)
  const many = Array.from({ length: 501 }, (_, i) => `r${i}`)
  const over = await g.call('alice', 'POST', BATCH, batch(many))
  t.equal(over.statusCode, 400)
  t.equal(over.json().code, 90011)
  t.match(over.json().desc, /501/)
  for (const peer of ['r0', 'r250', 'r500']) t.same(await thread(g, 'alice', peer), [], `nothing written to ${peer}`)
  const dupes = await g.call('alice', 'POST', BATCH, batch([...many.slice(0, 500), ...many.slice(0, 500)]))
  t.equal(dupes.statusCode, 200, '1000 names but 500 distinct is fine')
  t.equal(dupes.json().length, 500)
})

t.test('when 500 distinct recipients are named, then all 500 get the message', async t => {
  const g = await build(t)
  const many = Array.from({ length: 500 }, (_, i) => `peer-${i}`)
  const res = await g.call('alice', 'POST', BATCH, batch(many, text('hello 500')))
  t.equal(res.statusCode, 200)
  const results: Result[] = res.json()
  t.equal(results.length, 500)
  t.ok(results.every(r => r.msg_batch_send_result_code === 0 && r.msg_batch_send_result_msg?.message_seq === 1), 'all succeed, each seq 1')
  t.same(results.map(r => r.msg_batch_send_result_identifier), many, 'in request order')
  t.equal(new Set(results.map(r => r.msg_batch_send_result_msg!.message_msg_id)).size, 500, 'distinct messages')
  for (const peer of ['peer-0', 'peer-250', 'peer-499']) {
    const seen = await thread(g, peer, 'alice')
    t.equal(seen.length, 1, peer)
    t.same(seen[0]!.message_elem_array, [{ elem_type: 0, text_elem_content: 'hello 500' }], peer)
  }
})

t.test('when message_sender is not the caller, then the whole request is 403 unless the caller is the admin', async t => {
  const g = await build(t)
  const forged = await g.call('mallory', 'POST', BATCH, batch(['bob', 'carol'], text('x', { message_sender: 'alice' })))
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 10007)
  t.same(await thread(g, 'bob', 'alice'), [], 'nothing written as alice')
  t.same(await thread(g, 'bob', 'mallory'), [], 'nothing written as mallory')
  t.same(await thread(g, 'carol', 'alice'), [])
  const self = await g.call('mallory', 'POST', BATCH, batch(['bob'], text('x', { message_sender: 'mallory' })))
  t.equal(self.statusCode, 200, 'naming oneself is fine')

  const admin = g.config.adminIdentifier
  const asAlice = await g.call(admin, 'POST', BATCH, batch(['bob', 'carol'], text('from alice', { message_sender: 'alice' })))
  t.equal(asAlice.statusCode, 200, 'the admin sends as someone else')
  for (const r of asAlice.json() as Result[]) {
    t.equal(r.msg_batch_send_result_code, 0)
    t.equal(r.msg_batch_send_result_msg?.message_sender, 'alice')
    t.equal(r.msg_batch_send_result_msg?.message_conv_id, r.msg_batch_send_result_identifier)
  }
  for (const peer of ['bob', 'carol']) {
    const seen = await thread(g, peer, 'alice')
    t.equal(seen.length, 1, `${peer} got it in its thread with alice`)
    t.equal(seen[0]!.message_sender, 'alice')
  }
  t.same(await thread(g, 'bob', admin), [], 'not in a thread with the admin')
  const onBehalf = await g.call(admin, 'POST', BATCH, batch(['dave'], text('hi')), { 'x-tim-on-behalf-of': 'alice' })
  t.equal(onBehalf.statusCode, 200)
  t.equal(onBehalf.json()[0].msg_batch_send_result_msg.message_sender, 'alice', 'on behalf of alice, the sender is alice')
})

t.test('when the message is invalid, then the whole request is 400 and nothing is written', async t => {
  const g = await build(t)
  const cases: Array<[string, unknown, number]> = [
    ['group tips', { message_elem_array: [{ elem_type: 5 }] }, 6016],
    ['profile change', { message_elem_array: [{ elem_type: 11 }] }, 6016],
    ['missing text', { message_elem_array: [{ elem_type: 0 }] }, 6017],
    ['empty element array', { message_elem_array: [] }, 6017],
    ['no message', undefined, 6017],
    ['over 12 KB', { message_elem_array: [{ elem_type: 0, text_elem_content: 'x'.repeat(12 * 1024) }] }, 80002],
  ]
  for (const [name, msg, code] of cases) {
    const body = msg === undefined ? { msg_batch_send_param_identifier_array: ['bob', 'carol'] } : batch(['bob', 'carol'], msg)
    const res = await g.call('alice', 'POST', BATCH, body)
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, code, name)
  }
  const noArray = await g.call('alice', 'POST', BATCH, { msg_batch_send_param_msg: text('x') })
  t.equal(noArray.statusCode, 400)
  t.equal(noArray.json().code, 6017)
  t.match(noArray.json().desc, /msg_batch_send_param_identifier_array/)
  const notStrings = await g.call('alice', 'POST', BATCH, batch([1, 'bob']))
  t.equal(notStrings.statusCode, 400, 'a recipient that is not a string')
  t.equal(notStrings.json().code, 6017)
  t.same(await thread(g, 'bob', 'alice'), [], 'nothing written for bob')
  t.same(await thread(g, 'carol', 'alice'), [], 'nothing written for carol')
})

t.test('when the message is invalid and no recipient is valid, then it is still refused as a whole', async t => {
  const g = await build(t)
  const res = await g.call('alice', 'POST', BATCH, batch(['u'.repeat(33)], { message_elem_array: [{ elem_type: 5 }] }))
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 6016)
})

t.test('when the admin names an invalid UserID as message_sender, then 400 with 7003', async t => {
  const g = await build(t)
  const res = await g.call(g.config.adminIdentifier, 'POST', BATCH, batch(['bob'], text('x', { message_sender: 'bad\nsender' })))
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 7003)
})

t.test('when an online-only message is batch sent, then results carry seq 0 and nothing is stored', async t => {
  const g = await build(t)
  const res = await g.call('alice', 'POST', BATCH, batch(['bob', 'carol'], text('ping', { message_is_online_msg: true })))
  t.equal(res.statusCode, 200)
  const results: Result[] = res.json()
  t.same(results.map(r => r.msg_batch_send_result_code), [0, 0])
  for (const r of results) {
    const m = r.msg_batch_send_result_msg!
    t.equal(m.message_seq, 0, `${r.msg_batch_send_result_identifier}: seq 0`)
    t.equal(m.message_is_online_msg, true)
    t.equal(m.message_conv_id, r.msg_batch_send_result_identifier)
    t.type(m.message_msg_id, 'string')
  }
  t.not(results[0]!.msg_batch_send_result_msg!.message_msg_id, results[1]!.msg_batch_send_result_msg!.message_msg_id)
  t.same(await thread(g, 'bob', 'alice'), [], 'not listed for bob')
  t.same(await thread(g, 'carol', 'alice'), [], 'not listed for carol')
  t.same(await thread(g, 'alice', 'bob'), [], 'not listed for the sender')
  const next = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('stored'))
  t.equal(next.json().message_seq, 1, 'no seq consumed')
})

t.test('when a batch is repeated with the same Idempotency-Key, then it is replayed and written once', async t => {
  const g = await build(t)
  const body = batch(['bob', 'carol'], text('once'))
  const key = { 'idempotency-key': 'batch-1' }
  const first = await g.call('alice', 'POST', BATCH, body, key)
  t.equal(first.statusCode, 200)
  t.notOk(first.headers['idempotent-replayed'], 'the first is not a replay')
  const second = await g.call('alice', 'POST', BATCH, body, key)
  t.equal(second.statusCode, 200)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.same(second.json(), first.json(), 'the same results, the same messages')
  t.equal(second.body, first.body, 'byte for byte')
  for (const peer of ['bob', 'carol']) t.equal((await thread(g, peer, 'alice')).length, 1, `${peer} has one message`)
  const other = await g.call('alice', 'POST', BATCH, batch(['bob', 'carol'], text('twice')), key)
  t.equal(other.statusCode, 409, 'same key, different body')
  t.type(other.json().code, 'number')
  t.not(other.json().code, 0)
  const otherRecipients = await g.call('alice', 'POST', BATCH, batch(['bob', 'dave'], text('once')), key)
  t.equal(otherRecipients.statusCode, 409, 'same key, different recipients')
  for (const peer of ['bob', 'carol']) t.equal((await thread(g, peer, 'alice')).length, 1, `${peer} still has one message`)
  t.same(await thread(g, 'dave', 'alice'), [], 'dave got nothing')
  const fresh = await g.call('alice', 'POST', BATCH, body, { 'idempotency-key': 'batch-2' })
  t.equal(fresh.statusCode, 200, 'a new key is a new request')
  t.equal(fresh.json()[0].msg_batch_send_result_msg.message_seq, 2)
})
