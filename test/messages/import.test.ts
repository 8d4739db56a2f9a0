import t from 'tap'
import { build, text, type TestApp } from '../helper.js'
import { seed } from '../fixtures/seed.js'

type Msg = Record<string, unknown> & { message_msg_id: string, message_seq: number, message_server_time: number, message_sender: string, message_status: number }
const IMPORT = '/conversations/c2c_user2/messages/import'

const history = async (g: TestApp, user = 'user1', peer = 'user2'): Promise<Msg[]> =>
  (await g.call(user, 'POST', `/conversations/c2c_${peer}/messages/query`, { msg_getmsglist_param_is_forward: true, msg_getmsglist_param_count: 100 })).json()
const raw = (g: TestApp, user: string, url: string, payload: string) =>
  g.app.inject({ method: 'POST', url, headers: { ...g.as(user), 'content-type': 'application/json' }, payload })

t.test('when the seed\'s import example is imported verbatim, then it keeps sender and time, status 5, and re-import adds nothing', async t => {
  const g = await build(t)
  const res = await raw(g, 'user1', IMPORT, seed.importMsgList)
  t.equal(res.statusCode, 200)
  const [m] = res.json() as Msg[]
  t.equal(m!.message_sender, 'user1')
  t.equal(m!.message_server_time, 1551446728)
  t.equal(m!.message_client_time, 1551446728)
  t.equal(m!.message_status, 5)
  t.equal(m!.message_seq, 1)
  t.equal(m!.message_is_read, true)
  // Without a message_rand the rand is derived from the message (sha256 of its key, sender,
  // time and content): the same in every version, or re-imports made after an upgrade duplicate.
  t.equal(m!.message_rand, 968445561, 'the derived rand, pinned')
  const again = await raw(g, 'user1', IMPORT, seed.importMsgList)
  t.same(again.json(), res.json(), 're-importing returns the stored message')
  t.equal((await history(g)).length, 1, 'and adds nothing')
  const [peerView] = await history(g, 'user2', 'user1')
  t.equal(peerView!.message_is_read, true, 'no unread effect for the peer')
  t.equal(peerView!.message_is_from_self, false)
})

t.test('when history is imported, then it interleaves by time with what was sent', async t => {
  let clock = 1_700_000_100
  const g = await build(t, {}, { now: () => clock })
  await g.call('user1', 'POST', '/conversations/c2c_user2/messages', text('live-100'))
  clock = 1_700_000_300
  await g.call('user2', 'POST', '/conversations/c2c_user1/messages', text('live-300'))
  const res = await g.call('user1', 'POST', IMPORT, [
    text('old-050', { message_sender: 'user1', message_server_time: 1_700_000_050 }),
    text('mid-200', { message_sender: 'user1', message_client_time: 1_700_000_200 }),
    text('new-400', { message_server_time: 1_700_000_400, message_rand: 9 }),
  ])
  t.equal(res.statusCode, 200)
  t.same(res.json().map((m: Msg) => m.message_seq), [3, 4, 5], 'seqs in commit order')
  const order = (await history(g)).map(m => (m.message_elem_array as Array<{ text_elem_content: string }>)[0]!.text_elem_content)
  t.same(order, ['old-050', 'live-100', 'mid-200', 'live-300', 'new-400'], 'history is ordered by time')
  const back = (await g.call('user2', 'GET', '/conversations/c2c_user1/messages?count=2')).json()
  t.same(back.map((m: Msg) => m.message_server_time), [1_700_000_400, 1_700_000_300])
})

t.test('when a non-admin imports someone else\'s message, then 403 and nothing is stored; the admin may', async t => {
  const g = await build(t)
  const forged = await g.call('user1', 'POST', IMPORT, [text('mine', { message_sender: 'user1' }), text('theirs', { message_sender: 'user2' })])
  t.equal(forged.statusCode, 403)
  t.match(forged.json().desc, /\[1\]\.message_sender/)
  t.same(await history(g), [], 'all or nothing')
  const admin = g.config.adminIdentifier
  const ok = await g.call(admin, 'POST', IMPORT, [text('a', { message_sender: 'user1', message_server_time: 10 }), text('b', { message_sender: 'user2', message_server_time: 20 })], { 'x-tim-on-behalf-of': 'user1' })
  t.equal(ok.statusCode, 200)
  t.same(ok.json().map((m: Msg) => m.message_sender), ['user1', 'user2'])
  const outsider = await g.call(admin, 'POST', IMPORT, [text('c', { message_sender: 'user9' })], { 'x-tim-on-behalf-of': 'user1' })
  t.equal(outsider.statusCode, 403, 'only participants')
})

t.test('when one message of an import is invalid, then 400 naming its index and nothing is stored', async t => {
  const g = await build(t)
  const cases: Array<[unknown[], number, RegExp]> = [
    [[text('ok'), { message_elem_array: [{ elem_type: 0 }] }], 6017, /^\[1\]\.message_elem_array\[0\]\.text_elem_content is required/],
    [[text('ok'), text('ok2'), { message_elem_array: [{ elem_type: 5 }] }], 6016, /^\[2\]\.message_elem_array\[0\]/],
    [[{ message_elem_array: [{ elem_type: 0, text_elem_content: 'x'.repeat(13000) }] }], 80002, /12288/],
    [[], 6017, /1 items/],
  ]
  for (const [body, code, desc] of cases) {
    const res = await g.call('user1', 'POST', IMPORT, body)
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, code)
    t.match(res.json().desc, desc)
  }
  t.same(await history(g), [])
  const tooMany = Array.from({ length: 1001 }, (_, i) => text(`m${i}`))
  t.equal((await g.call('user1', 'POST', IMPORT, tooMany)).statusCode, 400, 'at most 1000')
})

t.test('when 1000 messages are imported in one call (a body over 1 MiB), then all are stored', async t => {
  const g = await build(t)
  const big = Array.from({ length: 1000 }, (_, i) => text(`${i}:${'z'.repeat(1100)}`, { message_server_time: 1_600_000_000 + i }))
  t.ok(JSON.stringify(big).length > 1024 * 1024, 'the body is over the 1 MiB default')
  const res = await g.call('user1', 'POST', IMPORT, big)
  t.equal(res.statusCode, 200)
  t.equal(res.json().length, 1000)
  t.equal(res.json()[999].message_seq, 1000)
})
