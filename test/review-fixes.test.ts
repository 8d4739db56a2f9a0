import t from 'tap'
import { createHash } from 'node:crypto'
import { build, text } from './helper.js'

t.test('when a message sent with an Idempotency-Key is revoked, then a replay returns the tombstone, not the content', async t => {
  const g = await build(t)
  const headers = { 'idempotency-key': 'k-revoke' }
  const body = text('secret content')
  const sent = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', body, headers)
  t.equal(sent.statusCode, 200)
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', sent.json())).statusCode, 200)
  const replay = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', body, headers)
  t.equal(replay.statusCode, 200)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  t.notMatch(replay.body, 'secret content')
  t.equal(replay.json().message_status, 6)
  t.same(replay.json().message_elem_array, [])
  t.equal(replay.json().message_msg_id, sent.json().message_msg_id)
})

t.test('when a key was left pending by a request that died, then the same request takes it over after a minute', async t => {
  let clock = 1_800_000_000
  const g = await build(t, {}, { now: () => clock })
  const url = '/conversations/c2c_bob/messages'
  const body = text('after a crash')
  const hash = createHash('sha256').update(`POST ${url}\n${JSON.stringify(body)}`).digest('hex')
  t.same(await g.app.idempotency.claim({ owner: 'alice\nalice', key: 'k-crash' }, hash), { state: 'claimed' }, 'claimed, never completed')
  clock += 61
  const res = await g.call('alice', 'POST', url, body, { 'idempotency-key': 'k-crash' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['idempotent-replayed'], undefined)
  const again = await g.call('alice', 'POST', url, body, { 'idempotency-key': 'k-crash' })
  t.equal(again.headers['idempotent-replayed'], 'true', 'and records its response')
})

t.test('when an import or save carries a time ahead of the clock, then 400 6017 naming it', async t => {
  const g = await build(t)
  const future = Math.floor(Date.now() / 1000) + 3600
  const imp = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/import', [text('ok'), text('later', { message_server_time: future })])
  t.equal(imp.statusCode, 400)
  t.match(imp.json().desc, /^\[1\]\.message_server_time is in the future/)
  const byClient = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/import', [text('later', { message_client_time: future })])
  t.match(byClient.json().desc, /^\[0\]\.message_client_time is in the future/)
  const save = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/save', text('later', { message_server_time: future }))
  t.equal(save.statusCode, 400)
  t.same((await g.call('alice', 'GET', '/conversations/c2c_bob/messages')).json(), [])
})

t.test('when the admin acts for a user who is not a member, then the group is closed to it', async t => {
  const g = await build(t)
  await g.call('owner', 'POST', '/groups', { group_id: 'g1' })
  const admin = g.config.adminIdentifier
  const asMallory = await g.call(admin, 'POST', '/conversations/group_g1/messages', text('x'), { 'x-tim-on-behalf-of': 'mallory' })
  t.equal(asMallory.statusCode, 403)
  t.equal(asMallory.json().code, 10007)
  t.equal((await g.call(admin, 'GET', '/conversations/group_g1/messages')).statusCode, 200, 'as itself the admin reads any group')
  t.equal((await g.call(admin, 'POST', '/conversations/group_g1/messages', text('y'), { 'x-tim-on-behalf-of': 'owner' })).statusCode, 200)
})

t.test('when ids are too long or empty, or SDK keys timgate does not serve are sent, then the right 4xx', async t => {
  const g = await build(t)
  const long = await g.call('alice', 'GET', `/conversations/${'x'.repeat(70)}/messages`)
  t.equal(long.json().code, 6004)
  t.equal((await g.call('alice', 'GET', `/conversations/c2c_${'u'.repeat(60)}/messages`)).json().code, 7003)
  t.equal((await g.call('alice', 'GET', `/groups/${'g'.repeat(60)}`)).json().code, 10015)
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('one'))
  const anchorless = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/query', { msg_getmsglist_param_last_msg: '' })
  t.equal(anchorless.statusCode, 200, 'an empty anchor is no anchor')
  t.equal(anchorless.json().length, 1)
  const del = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/delete', { msg_delete_param_msg: '' })
  t.equal(del.statusCode, 400, 'an empty id does not delete everything')
  t.equal((await g.call('alice', 'GET', '/conversations/c2c_bob/messages')).json().length, 1)
  for (const key of ['msg_getmsglist_param_last_msg_seq', 'msg_getmsglist_param_message_seq_array']) {
    const res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/query', { [key]: key.endsWith('array') ? [1] : 1 })
    t.equal(res.statusCode, 400, key)
    t.match(res.json().desc, key)
  }
})

t.test('when the database does not answer, then /health is 503 {code, desc}', async t => {
  const g = await build(t)
  t.equal((await g.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'healthy before')
  // The store closed under the app: SQLite's handle is closed, PostgreSQL's pool ended, so
  // every query fails (the app's own close at teardown closes it again, which is a no-op).
  await g.app.store.close()
  const res = await g.app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 6019)
})

t.test('when one message of a batch sent with an Idempotency-Key is revoked, then a replay shows only that one as a tombstone', async t => {
  const g = await build(t)
  const headers = { 'idempotency-key': 'k-batch-revoke' }
  const body = { msg_batch_send_param_identifier_array: ['bob', 'carol'], msg_batch_send_param_msg: text('batch secret') }
  const sent = await g.call('alice', 'POST', '/messages/batch', body, headers)
  t.equal(sent.statusCode, 200)
  const [toBob, toCarol] = sent.json() as Array<{ msg_batch_send_result_msg: Record<string, unknown> }>
  const other = await g.call('alice', 'POST', '/conversations/c2c_dave/messages', text('unrelated'), { 'idempotency-key': 'k-unrelated' })
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', toBob!.msg_batch_send_result_msg)).statusCode, 200)

  const replay = await g.call('alice', 'POST', '/messages/batch', body, headers)
  t.equal(replay.headers['idempotent-replayed'], 'true')
  const [bobAgain, carolAgain] = replay.json() as Array<{ msg_batch_send_result_msg: Record<string, unknown> }>
  t.equal(bobAgain!.msg_batch_send_result_msg.message_status, 6, 'the revoked one is a tombstone')
  t.same(bobAgain!.msg_batch_send_result_msg.message_elem_array, [])
  t.same(carolAgain, toCarol, 'the other recipient\'s result is as it was')
  const otherAgain = await g.call('alice', 'POST', '/conversations/c2c_dave/messages', text('unrelated'), { 'idempotency-key': 'k-unrelated' })
  t.equal(otherAgain.body, other.body, 'a response that does not carry the message is not rewritten')
})
