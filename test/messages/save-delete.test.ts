import t from 'tap'
import { build, text, type TestApp } from '../helper.js'
import { seed } from '../fixtures/seed.js'

type Msg = Record<string, unknown> & { message_msg_id: string, message_seq: number, message_rand: number, message_server_time: number, message_status: number }
const list = async (g: TestApp, user: string, peer: string): Promise<Msg[]> =>
  (await g.call(user, 'POST', `/conversations/c2c_${peer}/messages/query`, { msg_getmsglist_param_is_forward: true, msg_getmsglist_param_count: 100 })).json()
const locator = (m: Msg) => ({ message_locator_seq: m.message_seq, message_locator_rand: m.message_rand, message_locator_time: m.message_server_time })

t.test('when a message is saved, then only the saver sees it, with seq 0 and status 5, placed by its time', async t => {
  let clock = 1_700_000_100
  const g = await build(t, {}, { now: () => clock })
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('sent-100'))
  clock = 1_700_000_300
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('sent-300'))
  const res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/save', text('note-200', { message_server_time: 1_700_000_200 }))
  t.equal(res.statusCode, 200)
  const saved = res.json()
  t.equal(saved.message_seq, 0)
  t.equal(saved.message_status, 5)
  t.equal(saved.message_is_read, true)
  t.same((await list(g, 'alice', 'bob')).map(m => (m.message_elem_array as Array<{ text_elem_content: string }>)[0]!.text_elem_content), ['sent-100', 'note-200', 'sent-300'])
  t.equal((await list(g, 'bob', 'alice')).length, 2, 'the peer does not see it')
  t.equal((await g.call('bob', 'POST', '/conversations/c2c_alice/messages/find', [locator(saved)])).json().length, 0)
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/messages/find', [locator(saved)])).json().length, 1)
  const next = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('after'))).json()
  t.equal(next.message_seq, 3, 'saving takes no seq')
  const bad = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/save', { message_elem_array: [{ elem_type: 8 }] })
  t.equal(bad.json().code, 6016, 'saves are validated like sends')
})

t.test('when the caller deletes one message, then only its own view loses it; find shows it with status 4', async t => {
  const g = await build(t)
  const sent: Msg[] = []
  for (let i = 0; i < 3; i++) sent.push((await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`d${i}`))).json())
  const res = await g.call('bob', 'DELETE', `/conversations/c2c_alice/messages/${sent[1]!.message_msg_id}`)
  t.equal(res.statusCode, 204)
  t.same((await list(g, 'bob', 'alice')).map(m => m.message_seq), [1, 3])
  t.same((await list(g, 'alice', 'bob')).map(m => m.message_seq), [1, 2, 3], 'others still see it')
  const found = (await g.call('bob', 'POST', '/conversations/c2c_alice/messages/find', [locator(sent[1]!), locator(sent[0]!)])).json()
  t.same(found.map((m: Msg) => m.message_status), [4, 2])
  t.equal((await g.call('bob', 'DELETE', `/conversations/c2c_alice/messages/${sent[1]!.message_msg_id}`)).statusCode, 204, 'deleting again is fine')
  t.equal((await g.call('bob', 'DELETE', '/conversations/c2c_alice/messages/9-9-9')).statusCode, 404)
  t.equal((await g.call('carol', 'DELETE', `/conversations/c2c_alice/messages/${sent[0]!.message_msg_id}`)).statusCode, 404, 'another conversation')
  const sdk = await g.call('bob', 'POST', '/conversations/c2c_alice/messages/delete', { msg_delete_param_msg: sent[2], msg_delete_param_is_ramble: false })
  t.equal(sdk.statusCode, 204)
  t.same((await list(g, 'bob', 'alice')).map(m => m.message_seq), [1])
  const paging = (await g.call('bob', 'GET', '/conversations/c2c_alice/messages?count=1')).json()
  t.same(paging.map((m: Msg) => m.message_seq), [1], 'pages skip deleted messages')
})

t.test('when the caller deletes all (seed example, DELETE, or {}), then its history empties and new messages still arrive', async t => {
  const g = await build(t)
  for (let i = 0; i < 3; i++) await g.call('user1', 'POST', '/conversations/c2c_user2/messages', text(`a${i}`))
  const res = await g.app.inject({ method: 'POST', url: '/conversations/c2c_user2/messages/delete', headers: { ...g.as('user1'), 'content-type': 'application/json' }, payload: seed.delete })
  t.equal(res.statusCode, 204)
  t.same(await list(g, 'user1', 'user2'), [])
  t.equal((await list(g, 'user2', 'user1')).length, 3, 'the peer keeps its history')
  const next = (await g.call('user2', 'POST', '/conversations/c2c_user1/messages', text('new'))).json()
  t.same((await list(g, 'user1', 'user2')).map(m => m.message_msg_id), [next.message_msg_id])
  t.equal((await g.call('user2', 'DELETE', '/conversations/c2c_user1/messages')).statusCode, 204)
  t.same(await list(g, 'user2', 'user1'), [])
  await g.call('user1', 'POST', '/conversations/c2c_user2/messages', text('newer'))
  t.equal((await g.call('user1', 'POST', '/conversations/c2c_user2/messages/delete')).statusCode, 204, 'no body at all')
  t.same(await list(g, 'user1', 'user2'), [])
  const oldSpelling = await g.call('user1', 'POST', '/conversations/c2c_user2/messages/delete', { msg_delete_param_is_remble: true, msg_delete_param_msg: {} })
  t.equal(oldSpelling.statusCode, 204)
  const bad = await g.call('user1', 'POST', '/conversations/c2c_user2/messages/delete', { msg_delete_param_msg: { message_msg_id: '5-5-5' } })
  t.equal(bad.statusCode, 404)
})
