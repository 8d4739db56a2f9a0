import t from 'tap'
import { build, text } from '../helper.js'
import { seed } from '../fixtures/seed.js'

type Msg = { message_msg_id: string, message_seq: number, message_rand: number, message_server_time: number }
const locatorOf = (m: Msg, extra: Record<string, unknown> = {}) => ({
  message_locator_seq: m.message_seq,
  message_locator_rand: m.message_rand,
  message_locator_time: m.message_server_time,
  ...extra,
})

t.test('when messages are located, then one result per match comes back in locator order', async t => {
  const g = await build(t)
  const sent: Msg[] = []
  for (let i = 0; i < 5; i++) sent.push((await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`f${i}`))).json())
  const other: Msg = (await g.call('alice', 'POST', '/conversations/c2c_carol/messages', text('elsewhere'))).json()
  const locators = [
    locatorOf(sent[3]!),
    locatorOf(sent[0]!, { message_locator_is_self: false, message_locator_is_revoked: true, message_locator_unique_id: 12345 }),
    locatorOf(sent[1]!, { message_locator_rand: sent[1]!.message_rand + 1 }),
    locatorOf(sent[2]!, { message_locator_time: 1 }),
    locatorOf(other),
    locatorOf(sent[4]!),
  ]
  const res = await g.call('bob', 'POST', '/conversations/c2c_alice/messages/find', locators)
  t.equal(res.statusCode, 200)
  t.same(res.json().map((m: Msg) => m.message_msg_id), [sent[3]!.message_msg_id, sent[0]!.message_msg_id, sent[4]!.message_msg_id],
    'wrong rand, wrong time and another conversation match nothing; is_self/is_revoked/unique_id are not filters')
  t.equal(res.json()[0].message_conv_id, 'alice', 'seen from the caller\'s side')
  t.same((await g.call('dave', 'POST', '/conversations/c2c_alice/messages/find', locators)).json(), [], 'a stranger finds nothing')
  t.same((await g.call('bob', 'POST', '/conversations/c2c_alice/messages/find', [])).json(), [])
})

t.test('when the seed\'s locator example is sent verbatim, then it is accepted', async t => {
  const g = await build(t)
  const res = await g.app.inject({ method: 'POST', url: '/conversations/c2c_user2/messages/find', headers: { ...g.as('user1'), 'content-type': 'application/json' }, payload: seed.findByMsgLocatorList })
  t.equal(res.statusCode, 200)
  t.same(res.json(), [], 'no message has time 123 in a fresh store')
})

t.test('when a locator is incomplete or mistyped, then 400 with 6017 naming the key', async t => {
  const g = await build(t)
  const cases: Array<[unknown, RegExp]> = [
    [[{ message_locator_rand: 1, message_locator_time: 1 }], /\[0\]\.message_locator_seq is required/],
    [[{ message_locator_seq: '1', message_locator_rand: 1, message_locator_time: 1 }], /\[0\]\.message_locator_seq must be integer/],
    [[{ message_locator_seq: 1, message_locator_rand: 1, message_locator_time: 1 }, 5], /\[1\] must be object/],
    [{ message_locator_seq: 1 }, /must be array/],
  ]
  for (const [body, desc] of cases) {
    const res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/find', body)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 6017)
    t.match(res.json().desc, desc)
  }
  const tooMany = Array.from({ length: 1001 }, () => ({ message_locator_seq: 1, message_locator_rand: 1, message_locator_time: 1 }))
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/messages/find', tooMany)).statusCode, 400, 'at most 1000 locators')
})
