import t from 'tap'
import { build, text, type TestApp } from '../helper.js'

type Msg = { message_msg_id: string, message_seq: number, message_is_read: boolean, message_is_peer_read: boolean, message_sender: string }

const listAs = async (g: TestApp, user: string, peer: string): Promise<Msg[]> =>
  (await g.call(user, 'POST', `/conversations/c2c_${peer}/messages/query`, { msg_getmsglist_param_is_forward: true, msg_getmsglist_param_count: 100 })).json()

t.test('when the reader reports a message read, then it and everything before it are read, for both sides', async t => {
  const g = await build(t)
  const sent: Msg[] = []
  for (let i = 0; i < 4; i++) sent.push((await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`r${i}`))).json())
  const mine = (await g.call('bob', 'POST', '/conversations/c2c_alice/messages', text('own'))).json()
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [false, false, false, false, true], 'nothing read yet; one\'s own messages always are')
  t.same((await listAs(g, 'alice', 'bob')).map(m => m.message_is_peer_read), [false, false, false, false, false])

  const res = await g.call('bob', 'POST', '/conversations/c2c_alice/read', sent[1])
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [true, true, false, false, true])
  t.same((await listAs(g, 'alice', 'bob')).map(m => m.message_is_peer_read), [true, true, false, false, false], 'the sender sees the peer read its first two')
  t.same((await listAs(g, 'alice', 'bob')).map(m => m.message_is_read), [true, true, true, true, false], 'alice has not read bob\'s message')
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_peer_read), [false, false, false, false, false], 'peer-read is about one\'s own messages')
  t.equal(mine.message_is_read, true)
})

t.test('when the read point would move backwards, then it stays', async t => {
  const g = await build(t)
  const sent: Msg[] = []
  for (let i = 0; i < 3; i++) sent.push((await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`b${i}`))).json())
  await g.call('bob', 'POST', '/conversations/c2c_alice/read', { message_msg_id: sent[2]!.message_msg_id })
  t.equal((await g.call('bob', 'POST', '/conversations/c2c_alice/read', sent[0])).statusCode, 204)
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [true, true, true])
})

t.test('when no message is given ({}, nothing, or an empty JSON body), then the newest message is the read point', async t => {
  const g = await build(t)
  for (let i = 0; i < 2; i++) await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`n${i}`))
  t.equal((await g.call('bob', 'POST', '/conversations/c2c_alice/read')).statusCode, 204, 'no body')
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [true, true])
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('later'))
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [true, true, false], 'newer messages are unread again')
  t.equal((await g.call('bob', 'POST', '/conversations/c2c_alice/read', {})).statusCode, 204, '{}')
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [true, true, true])
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('latest'))
  const empty = await g.app.inject({ method: 'POST', url: '/conversations/c2c_alice/read', headers: { ...g.as('bob'), 'content-type': 'application/json' }, payload: '' })
  t.equal(empty.statusCode, 204, 'an empty JSON body (the SDK\'s "")')
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [true, true, true, true])
  t.equal((await g.call('carol', 'POST', '/conversations/c2c_dave/read', {})).statusCode, 204, 'an empty conversation is fine')
})

t.test('when the message to read is unknown or elsewhere, then 404 and the point does not move', async t => {
  const g = await build(t)
  const here = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('here'))).json()
  const there = (await g.call('alice', 'POST', '/conversations/c2c_carol/messages', text('there'))).json()
  for (const body of [there, { message_msg_id: '77-1-1' }, { message_seq: here.message_seq, message_rand: here.message_rand + 1, message_server_time: here.message_server_time }]) {
    const res = await g.call('bob', 'POST', '/conversations/c2c_alice/read', body)
    t.equal(res.statusCode, 404)
    t.equal(res.json().code, 6021)
  }
  const partial = await g.call('bob', 'POST', '/conversations/c2c_alice/read', { message_seq: 1 })
  t.equal(partial.statusCode, 400)
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [false])
  const byLocator = await g.call('bob', 'POST', '/conversations/c2c_alice/read', { message_seq: here.message_seq, message_rand: here.message_rand, message_server_time: here.message_server_time })
  t.equal(byLocator.statusCode, 204, 'seq + rand + time locate it')
  t.same((await listAs(g, 'bob', 'alice')).map(m => m.message_is_read), [true])
})
