import t from 'tap'
import { build, text, type TestApp } from '../helper.js'
import { seed } from '../fixtures/seed.js'

type Msg = Record<string, unknown> & { message_msg_id: string, message_seq: number }

const QUERY = '/conversations/c2c_bob/messages/query'

async function sendN (g: TestApp, n: number, from = 'alice', to = 'bob'): Promise<Msg[]> {
  const out: Msg[] = []
  for (let i = 0; i < n; i++) out.push((await g.call(from, 'POST', `/conversations/c2c_${to}/messages`, text(`m${i}`))).json())
  return out
}

const query = async (g: TestApp, body: unknown, user = 'alice', url = QUERY) => g.call(user, 'POST', url, body)
const seqs = (ms: Msg[]) => ms.map(m => m.message_seq)

t.test('when no anchor is given, then backward starts at the newest (newest first) and forward at the oldest', async t => {
  const g = await build(t)
  await sendN(g, 25)
  const back = (await query(g, {})).json()
  t.same(seqs(back), Array.from({ length: 20 }, (_, i) => 25 - i), 'default count 20, newest first')
  const fwd = (await query(g, { msg_getmsglist_param_is_forward: true, msg_getmsglist_param_count: 5 })).json()
  t.same(seqs(fwd), [1, 2, 3, 4, 5])
  const empty = (await query(g, { msg_getmsglist_param_last_msg: {}, msg_getmsglist_param_count: 3 })).json()
  t.same(seqs(empty), [25, 24, 23], 'an empty last_msg is no anchor')
  const get = (await g.call('alice', 'GET', '/conversations/c2c_bob/messages?count=3&is_forward=true')).json()
  t.same(seqs(get), [1, 2, 3], 'GET parses the query string as typed values')
})

t.test('when the seed\'s example parameter is used verbatim, then it lists forward from the oldest', async t => {
  const g = await build(t)
  await sendN(g, 3, 'alice', 'Windows-02')
  const res = await g.app.inject({ method: 'POST', url: '/conversations/c2c_Windows-02/messages/query', headers: { ...g.as('alice'), 'content-type': 'application/json' }, payload: seed.getMsgList })
  t.equal(res.statusCode, 200)
  t.same(seqs(res.json()), [1, 2, 3])
})

t.test('when an anchor is given, then it is exclusive, by msg_id, by string, by GET or by seq+rand+time', async t => {
  const g = await build(t)
  const sent = await sendN(g, 10)
  const a = sent[4]!
  t.same(seqs((await query(g, { msg_getmsglist_param_last_msg: a, msg_getmsglist_param_count: 3 })).json()), [4, 3, 2], 'the whole message as anchor')
  t.same(seqs((await query(g, { msg_getmsglist_param_last_msg: a.message_msg_id, msg_getmsglist_param_count: 3, msg_getmsglist_param_is_forward: true })).json()), [6, 7, 8], 'a msg_id string')
  const locator = { message_seq: a.message_seq, message_rand: a.message_rand, message_server_time: a.message_server_time }
  t.same(seqs((await query(g, { msg_getmsglist_param_last_msg: locator, msg_getmsglist_param_count: 2 })).json()), [4, 3], 'seq + rand + time')
  t.same(seqs((await g.call('alice', 'GET', `/conversations/c2c_bob/messages?last_msg_id=${a.message_msg_id}&count=2`)).json()), [4, 3])
  t.same(seqs((await g.call('bob', 'GET', `/conversations/c2c_alice/messages?last_msg_id=${a.message_msg_id}&count=2&is_forward=true`)).json()), [6, 7], 'the anchor works from the other end too')
  t.same((await query(g, { msg_getmsglist_param_last_msg: sent[0], msg_getmsglist_param_count: 3 })).json(), [], 'nothing older than the first')
})

t.test('when the anchor is unknown or from another conversation, then 404; a partial one is 400', async t => {
  const g = await build(t)
  await sendN(g, 2)
  const [other] = await sendN(g, 1, 'alice', 'carol')
  for (const anchor of [other!.message_msg_id, { message_msg_id: '999-1-1' }, { message_msg_id: 'garbage' }, { message_seq: 1, message_rand: 1, message_server_time: 1 }]) {
    const res = await query(g, { msg_getmsglist_param_last_msg: anchor })
    t.equal(res.statusCode, 404, JSON.stringify(anchor))
    t.equal(res.json().code, 6021)
  }
  const tampered = other!.message_msg_id.replace(/-\d+$/, '-1')
  t.equal((await query(g, { msg_getmsglist_param_last_msg: tampered })).statusCode, 404, 'the rand part of the id must match')
  const get = await g.call('alice', 'GET', `/conversations/c2c_bob/messages?last_msg_id=${other!.message_msg_id}`)
  t.equal(get.statusCode, 404)
  const partial = await query(g, { msg_getmsglist_param_last_msg: { message_seq: 1 } })
  t.equal(partial.statusCode, 400)
  t.match(partial.json().desc, /msg_getmsglist_param_last_msg/)
})

t.test('when count is out of range or not a number, then 400 with 6017 naming it', async t => {
  const g = await build(t)
  for (const count of [0, 101, -1, 1.5, '20', null, true]) {
    const res = await query(g, { msg_getmsglist_param_count: count })
    t.equal(res.statusCode, 400, `count ${JSON.stringify(count)}`)
    t.equal(res.json().code, 6017)
    t.match(res.json().desc, /msg_getmsglist_param_count/)
  }
  for (const qs of ['count=0', 'count=101', 'count=abc', 'is_forward=maybe', 'time_begin=-5', 'message_type=13']) {
    const res = await g.call('alice', 'GET', `/conversations/c2c_bob/messages?${qs}`)
    t.equal(res.statusCode, 400, qs)
    t.equal(res.json().code, 6017, qs)
  }
  t.equal((await g.call('alice', 'GET', '/conversations/c2c_bob/messages?nonsense=1')).statusCode, 200, 'unknown query parameters are ignored')
  t.equal((await query(g, { msg_getmsglist_param_count: 100 })).statusCode, 200)
  t.equal((await query(g, { msg_getmsglist_param_is_ramble: true, msg_getmsglist_param_count: 1 })).statusCode, 200, 'the new spelling of is_ramble')
})

t.test('when a time range or an element-type filter is given, then only matching messages are listed', async t => {
  let now = 1_700_000_000
  const g = await build(t, {}, { now: () => now })
  for (let i = 0; i < 6; i++) {
    now = 1_700_000_000 + i * 10
    await g.call('alice', 'POST', '/conversations/c2c_bob/messages', i % 2 === 0 ? text(`t${i}`) : { message_elem_array: [{ elem_type: 6, face_elem_index: i }] })
  }
  const ranged = (await query(g, { msg_getmsglist_param_time_begin: 1_700_000_010, msg_getmsglist_param_time_period: 30, msg_getmsglist_param_is_forward: true })).json()
  t.same(ranged.map((m: Msg) => m.message_server_time), [1_700_000_010, 1_700_000_020, 1_700_000_030], 'time_begin inclusive, time_begin + period exclusive')
  const faces = (await query(g, { msg_getmsglist_param_message_type_array: [6] })).json()
  t.same(seqs(faces), [6, 4, 2])
  const both = (await g.call('alice', 'GET', '/conversations/c2c_bob/messages?message_type=0&message_type=6&time_begin=1700000040')).json()
  t.same(seqs(both), [6, 5])
  const anchoredInRange = (await query(g, { msg_getmsglist_param_time_begin: 1_700_000_010, msg_getmsglist_param_last_msg: faces[0], msg_getmsglist_param_count: 10 })).json()
  t.same(seqs(anchoredInRange), [5, 4, 3, 2], 'anchor and time range together')
})

t.test('when walking page by page while new messages arrive, then every message is visited exactly once', async t => {
  const g = await build(t)
  await sendN(g, 23)
  // Backward from the newest: what existed at the start, each once.
  const seenBack: number[] = []
  let anchor: Msg | undefined
  for (;;) {
    const page: Msg[] = (await query(g, { msg_getmsglist_param_count: 5, ...(anchor !== undefined && { msg_getmsglist_param_last_msg: anchor }) })).json()
    await sendN(g, 2, 'bob', 'alice')
    if (page.length === 0) break
    seenBack.push(...seqs(page))
    anchor = page.at(-1)
  }
  t.same(seenBack, Array.from({ length: 23 }, (_, i) => 23 - i))
  // Forward from the oldest: everything, including what arrives meanwhile, each once.
  const seenFwd: number[] = []
  anchor = undefined
  let arrivals = 0
  for (;;) {
    const page: Msg[] = (await query(g, { msg_getmsglist_param_is_forward: true, msg_getmsglist_param_count: 7, ...(anchor !== undefined && { msg_getmsglist_param_last_msg: anchor }) })).json()
    if (arrivals < 10) { await sendN(g, 3); arrivals++ }
    if (page.length === 0) break
    seenFwd.push(...seqs(page))
    anchor = page.at(-1)
  }
  const total = (await query(g, { msg_getmsglist_param_count: 1 })).json()[0].message_seq
  t.same(seenFwd, Array.from({ length: total }, (_, i) => i + 1), `all ${total} messages, in order, once`)
})

t.test('when many sends race in one conversation, then seqs are 1..N with no gap or repeat', async t => {
  const g = await build(t)
  const n = 200
  const results = await Promise.all(Array.from({ length: n }, (_, i) =>
    g.call(i % 2 === 0 ? 'alice' : 'bob', 'POST', i % 2 === 0 ? '/conversations/c2c_bob/messages' : '/conversations/c2c_alice/messages', text(`r${i}`))))
  t.ok(results.every(r => r.statusCode === 200))
  const got = results.map(r => r.json().message_seq as number).sort((a, b) => a - b)
  t.same(got, Array.from({ length: n }, (_, i) => i + 1))
  const ids = new Set(results.map(r => r.json().message_unique_id))
  t.equal(ids.size, n, 'unique ids are unique')
})

// On PostgreSQL the two share one schema through two pools: the same rule, across replicas.
t.test('when two gateways share one store (SQLite file or PostgreSQL schema), then seqs stay gapless across both', async t => {
  const one = await build(t)
  const two = await build(t, {}, { config: one.config })
  const n = 60
  const results = await Promise.all(Array.from({ length: n }, (_, i) =>
    (i % 2 === 0 ? one : two).call('alice', 'POST', '/conversations/c2c_bob/messages', text(`p${i}`))))
  t.ok(results.every(r => r.statusCode === 200))
  t.same(results.map(r => r.json().message_seq as number).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1))
  const listed = (await two.call('bob', 'POST', '/conversations/c2c_alice/messages/query', { msg_getmsglist_param_count: 100 })).json()
  t.equal(listed.length, n)
})

t.test('when a later commit carries an earlier clock reading, then its server time is raised so history keeps commit order', async t => {
  let clock = 1_700_000_001
  const g = await build(t, {}, { now: () => clock })
  const first = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('first'))).json()
  clock = 1_700_000_000
  const second = (await g.call('bob', 'POST', '/conversations/c2c_alice/messages', text('second'))).json()
  t.equal(second.message_seq, 2)
  t.equal(second.message_server_time, 1_700_000_001, 'not before the message committed ahead of it')
  const fwd = (await query(g, { msg_getmsglist_param_is_forward: true })).json()
  t.same(seqs(fwd), [1, 2])
  t.equal(fwd[0].message_msg_id, first.message_msg_id)
  const listedSecond = fwd[1]
  t.equal(listedSecond.message_server_time, 1_700_000_001, 'the stored time is the raised one')
  clock = 1_600_000_000
  const imported = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages/import', [text('old', { message_server_time: 1_500_000_000 })])).json()
  t.equal(imported[0].message_server_time, 1_500_000_000, 'imports keep their time')
  const third = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('third'))).json()
  t.equal(third.message_server_time, 1_700_000_001, 'an import does not lower the floor')
})
