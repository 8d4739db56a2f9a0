import t from 'tap'
import type { AddressInfo } from 'node:net'
import type { LightMyRequestResponse } from 'fastify'
import { build, text, type TestApp } from './helper.js'

/** CONTRACT §7 Idempotency-Key, and §6 online messages, through the HTTP front door. */

const SEND = '/conversations/c2c_bob/messages'
const DAY = 24 * 3600

type Msg = Record<string, unknown> & {
  message_msg_id: string
  message_seq: number
  message_rand: number
  message_server_time: number
  message_status: number
}

/** Everything `user` can list in `conv`, oldest first. */
async function history (g: TestApp, user: string, conv: string): Promise<Msg[]> {
  const res = await g.call(user, 'GET', `/conversations/${conv}/messages?count=100&is_forward=true`)
  if (res.statusCode !== 200) throw new Error(`listing ${conv} as ${user}: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** tap's Test, as the callbacks of t.test receive it. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0]

const key = (k: string) => ({ 'idempotency-key': k })

/** `again` is the replay of `first`: same status, byte-identical body, marked as replayed. */
function isReplayOf (t: Test, again: LightMyRequestResponse, first: LightMyRequestResponse, what: string) {
  t.equal(first.headers['idempotent-replayed'], undefined, `${what}: the first response is not a replay`)
  t.equal(again.statusCode, first.statusCode, `${what}: same status`)
  t.equal(again.body, first.body, `${what}: byte-identical body`)
  t.equal(again.headers['content-type'], first.headers['content-type'], `${what}: same content-type`)
  t.equal(again.headers['idempotent-replayed'], 'true', `${what}: idempotent-replayed: true`)
}

/** The 409 of a reused key: {code 6017, desc}. */
function isMismatch (t: Test, res: LightMyRequestResponse, what: string) {
  t.equal(res.statusCode, 409, `${what}: 409`)
  t.equal(res.json().code, 6017, `${what}: code 6017`)
  t.type(res.json().desc, 'string', `${what}: a desc`)
  t.same(Object.keys(res.json()).sort(), ['code', 'desc'], `${what}: {code, desc}`)
  t.equal(res.headers['idempotent-replayed'], undefined, `${what}: not a replay`)
}

/** A controllable clock (unix seconds) and an app on it. */
async function clocked (t: Test): Promise<{ g: TestApp, clock: { now: number } }> {
  const clock = { now: 1_700_000_000 }
  const g = await build(t, {}, { now: () => clock.now })
  return { g, clock }
}

t.test('when a send is replayed with the same key and body, then the first response comes back and nothing is written', async t => {
  const { g, clock } = await clocked(t)
  const first = await g.call('alice', 'POST', SEND, text('once'), key('send-1'))
  t.equal(first.statusCode, 200)
  t.equal(first.json().message_seq, 1)
  clock.now += 5
  const again = await g.call('alice', 'POST', SEND, text('once'), key('send-1'))
  isReplayOf(t, again, first, 'send')
  const stored = await history(g, 'alice', 'c2c_bob')
  t.equal(stored.length, 1, 'exactly one message')
  t.equal(stored[0]!.message_msg_id, first.json().message_msg_id)
  const next = await g.call('alice', 'POST', SEND, text('next'))
  t.equal(next.json().message_seq, 2, 'the replay consumed no seq')
})

t.test('when a save is replayed, then the first response comes back and nothing is written', async t => {
  const { g, clock } = await clocked(t)
  const first = await g.call('alice', 'POST', `${SEND}/save`, text('mine'), key('save-1'))
  t.equal(first.statusCode, 200)
  t.equal(first.json().message_seq, 0)
  t.equal(first.json().message_status, 5)
  clock.now += 5
  const again = await g.call('alice', 'POST', `${SEND}/save`, text('mine'), key('save-1'))
  isReplayOf(t, again, first, 'save')
  const stored = await history(g, 'alice', 'c2c_bob')
  t.equal(stored.length, 1, 'exactly one saved message')
  t.equal(stored[0]!.message_msg_id, first.json().message_msg_id)
})

t.test('when an import is replayed, then the first response comes back and nothing is written', async t => {
  const { g, clock } = await clocked(t)
  // No times and no rand: each execution takes the clock's time, so re-running it later would store new messages.
  const batch = [text('h1'), text('h2')]
  const first = await g.call('alice', 'POST', `${SEND}/import`, batch, key('import-1'))
  t.equal(first.statusCode, 200)
  t.same(first.json().map((m: Msg) => m.message_seq), [1, 2])
  clock.now += 10
  const again = await g.call('alice', 'POST', `${SEND}/import`, batch, key('import-1'))
  isReplayOf(t, again, first, 'import')
  t.same((await history(g, 'alice', 'c2c_bob')).map(m => m.message_msg_id), first.json().map((m: Msg) => m.message_msg_id), 'exactly the first two messages')
  const control = await g.call('alice', 'POST', `${SEND}/import`, batch, key('import-2'))
  t.equal(control.headers['idempotent-replayed'], undefined, 'control: a new key runs the import')
  t.equal((await history(g, 'alice', 'c2c_bob')).length, 4, 'control: executed later, the same import does write')
})

t.test('when a revoke is replayed, then the first tombstone comes back and nothing is written', async t => {
  const { g, clock } = await clocked(t)
  const sent: Msg = (await g.call('alice', 'POST', SEND, text('oops'))).json()
  const first = await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', sent, key('revoke-1'))
  t.equal(first.statusCode, 200)
  t.equal(first.json().message_status, 6)
  t.equal(first.json().message_revoker_user_id, 'alice')
  clock.now += 5
  const again = await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', sent, key('revoke-1'))
  isReplayOf(t, again, first, 'revoke')
  const stored = await history(g, 'alice', 'c2c_bob')
  t.equal(stored.length, 1, 'one message')
  t.equal(stored[0]!.message_seq, 1, 'seq unchanged')
  t.equal(stored[0]!.message_status, 6, 'still the tombstone')
  t.same(stored[0]!.message_elem_array, [])
  t.equal((await g.call('alice', 'POST', SEND, text('after'))).json().message_seq, 2, 'no seq was consumed')
})

t.test('when a read report is replayed, then 204 comes back and the read point does not move', async t => {
  const g = await build(t)
  const m1: Msg = (await g.call('alice', 'POST', SEND, text('m1'))).json()
  const first = await g.call('bob', 'POST', '/conversations/c2c_alice/read', {}, key('read-1'))
  t.equal(first.statusCode, 204)
  const m2: Msg = (await g.call('alice', 'POST', SEND, text('m2'))).json()
  const again = await g.call('bob', 'POST', '/conversations/c2c_alice/read', {}, key('read-1'))
  isReplayOf(t, again, first, 'read')
  const seen = await history(g, 'bob', 'c2c_alice')
  t.same(seen.map(m => [m.message_msg_id, m.message_is_read]), [[m1.message_msg_id, true], [m2.message_msg_id, false]],
    'the replay did not move the read point to the newer message')
  t.equal((await g.call('bob', 'POST', '/conversations/c2c_alice/read', {}, key('read-2'))).statusCode, 204)
  t.equal((await history(g, 'bob', 'c2c_alice'))[1]!.message_is_read, true, 'control: a new key does move it')
})

t.test('when the SDK delete form is replayed, then 204 comes back and nothing more is deleted', async t => {
  const g = await build(t)
  await g.call('alice', 'POST', SEND, text('old'))
  const first = await g.call('bob', 'POST', '/conversations/c2c_alice/messages/delete', {}, key('del-1'))
  t.equal(first.statusCode, 204)
  t.same(await history(g, 'bob', 'c2c_alice'), [])
  const newer: Msg = (await g.call('alice', 'POST', SEND, text('new'))).json()
  const again = await g.call('bob', 'POST', '/conversations/c2c_alice/messages/delete', {}, key('del-1'))
  isReplayOf(t, again, first, 'delete')
  t.same((await history(g, 'bob', 'c2c_alice')).map(m => m.message_msg_id), [newer.message_msg_id], 'the newer message is not deleted')
  t.equal((await history(g, 'alice', 'c2c_bob')).length, 2, 'the sender still sees both')
})

t.test('when a group creation is replayed, then the first 201 comes back and the group is unchanged', async t => {
  const g = await build(t)
  const body = { group_id: 'idem-g1', group_name: 'G', group_member_array: ['bob'] }
  const first = await g.call('alice', 'POST', '/groups', body, key('group-1'))
  t.equal(first.statusCode, 201)
  const again = await g.call('alice', 'POST', '/groups', body, key('group-1'))
  isReplayOf(t, again, first, 'create group')
  const group = await g.call('alice', 'GET', '/groups/idem-g1')
  t.same(group.json().group_member_array, ['alice', 'bob'])
  t.equal(group.json().group_owner, 'alice')
  const tips = await history(g, 'alice', 'group_idem-g1')
  t.same(tips.map(m => m.message_seq), [1], 'one group-tips message')
  const without = await g.call('alice', 'POST', '/groups', body)
  t.equal(without.statusCode, 409, 'control: without the key the same creation is refused as a duplicate')

  const generated = await g.call('alice', 'POST', '/groups', { group_name: 'anon' }, key('group-2'))
  t.equal(generated.statusCode, 201)
  const generatedAgain = await g.call('alice', 'POST', '/groups', { group_name: 'anon' }, key('group-2'))
  isReplayOf(t, generatedAgain, generated, 'create group with a generated id')
})

t.test('when a key is reused with a different body or endpoint, then 409 6017 and nothing is written', async t => {
  const g = await build(t)
  const first = await g.call('alice', 'POST', SEND, text('a'), key('k'))
  t.equal(first.statusCode, 200)
  isMismatch(t, await g.call('alice', 'POST', SEND, text('b'), key('k')), 'different body')
  isMismatch(t, await g.call('alice', 'POST', SEND, text('a', { message_rand: 7 }), key('k')), 'an added key')
  isMismatch(t, await g.call('alice', 'POST', '/conversations/c2c_carol/messages', text('a'), key('k')), 'another conversation')
  isMismatch(t, await g.call('alice', 'POST', `${SEND}/save`, text('a'), key('k')), 'another endpoint')
  t.same((await history(g, 'alice', 'c2c_bob')).map(m => m.message_msg_id), [first.json().message_msg_id], 'exactly the first message')
  t.same(await history(g, 'alice', 'c2c_carol'), [], 'nothing in the other conversation')
  isReplayOf(t, await g.call('alice', 'POST', SEND, text('a'), key('k')), first, 'the original request still replays')

  const group = await g.call('alice', 'POST', '/groups', { group_id: 'idem-g2' }, key('gk'))
  t.equal(group.statusCode, 201)
  isMismatch(t, await g.call('alice', 'POST', '/groups', { group_id: 'idem-g3' }, key('gk')), 'another group')
  t.equal((await g.call('alice', 'GET', '/groups/idem-g3')).statusCode, 404, 'the second group was not created')
})

t.test('when another caller uses the same key, then it is independent and both write', async t => {
  const g = await build(t)
  const alice = await g.call('alice', 'POST', SEND, text('same'), key('shared'))
  const carol = await g.call('carol', 'POST', SEND, text('same'), key('shared'))
  t.equal(alice.statusCode, 200)
  t.equal(carol.statusCode, 200)
  t.equal(carol.headers['idempotent-replayed'], undefined, 'carol is not replayed alice\'s response')
  t.equal(carol.json().message_sender, 'carol')
  t.equal((await history(g, 'bob', 'c2c_alice')).length, 1)
  t.equal((await history(g, 'bob', 'c2c_carol')).length, 1)
  // Same URL, same body, same side of the conversation: only the UserSig's identifier differs.
  const admin = g.config.adminIdentifier
  const onBehalf = await g.call(admin, 'POST', SEND, text('same'), { ...key('shared'), 'x-tim-on-behalf-of': 'alice' })
  t.equal(onBehalf.statusCode, 200)
  t.equal(onBehalf.headers['idempotent-replayed'], undefined, 'the admin acting for alice is another caller')
  t.not(onBehalf.json().message_msg_id, alice.json().message_msg_id)
  t.equal((await history(g, 'alice', 'c2c_bob')).length, 2, 'both wrote')
  // And a different body from carol with that key is not a conflict with alice's.
  const carolOther = await g.call('carol', 'POST', '/conversations/c2c_dave/messages', text('other'), key('other'))
  t.equal(carolOther.statusCode, 200)
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_dave/messages', text('different'), key('other'))).statusCode, 200)
})

t.test('when 20 identical requests with one key race on a listening server, then all get the same 200 and one message is stored', async t => {
  const g = await build(t)
  await g.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = g.app.server.address() as AddressInfo
  const init = {
    method: 'POST',
    headers: { ...g.as('alice'), 'content-type': 'application/json', 'idempotency-key': 'race-1' },
    body: JSON.stringify(text('race')),
  }
  const results = await Promise.all(Array.from({ length: 20 }, async () => {
    const res = await fetch(`http://127.0.0.1:${port}${SEND}`, init)
    return { status: res.status, body: await res.text(), replayed: res.headers.get('idempotent-replayed') }
  }))
  t.same(results.map(r => r.status), Array(20).fill(200), 'all 200')
  t.equal(new Set(results.map(r => r.body)).size, 1, 'all the same body')
  t.equal(results.filter(r => r.replayed === null).length, 1, 'exactly one ran')
  t.equal(results.filter(r => r.replayed === 'true').length, 19, 'the others are replays')
  const stored = await history(g, 'alice', 'c2c_bob')
  t.equal(stored.length, 1, 'exactly one message stored')
  t.equal(stored[0]!.message_msg_id, JSON.parse(results[0]!.body).message_msg_id)
})

t.test('when the app restarts on the same database, then a key is still replayed', async t => {
  const first = await build(t)
  const sent = await first.call('alice', 'POST', SEND, text('durable'), key('durable-1'))
  t.equal(sent.statusCode, 200)
  await first.app.close()
  const second = await build(t, {}, { config: first.config })
  const again = await second.call('alice', 'POST', SEND, text('durable'), key('durable-1'))
  isReplayOf(t, again, sent, 'after a restart')
  const stored = await history(second, 'alice', 'c2c_bob')
  t.equal(stored.length, 1, 'no new message')
  t.equal(stored[0]!.message_msg_id, sent.json().message_msg_id)
  isMismatch(t, await second.call('alice', 'POST', SEND, text('changed'), key('durable-1')), 'a different body after a restart')
})

t.test('when the first response was a 4xx, then it is replayed too', async t => {
  const g = await build(t)
  // Refused by the message rules inside the handler (6016).
  const tips = { message_elem_array: [{ elem_type: 5 }] }
  const first = await g.call('alice', 'POST', SEND, tips, key('bad-1'))
  t.equal(first.statusCode, 400)
  t.equal(first.json().code, 6016)
  isReplayOf(t, await g.call('alice', 'POST', SEND, tips, key('bad-1')), first, 'a 400 of the message rules')
  isMismatch(t, await g.call('alice', 'POST', SEND, text('fixed'), key('bad-1')), 'a corrected body with the key of the 400')
  // 403 and 404 are first responses like any other.
  const forged = text('x', { message_sender: 'carol' })
  const denied = await g.call('alice', 'POST', SEND, forged, key('bad-2'))
  t.equal(denied.statusCode, 403)
  isReplayOf(t, await g.call('alice', 'POST', SEND, forged, key('bad-2')), denied, 'a 403')
  const ghost = { message_msg_id: 'nosuch' }
  const missing = await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', ghost, key('bad-3'))
  t.equal(missing.statusCode, 404)
  isReplayOf(t, await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', ghost, key('bad-3')), missing, 'a 404')
  t.same(await history(g, 'alice', 'c2c_bob'), [], 'nothing was written')
})

t.test('when the first response was a schema 400, then it is replayed too', async t => {
  const g = await build(t)
  const invalid = { message_elem_array: [{ elem_type: 0 }] }
  const first = await g.call('alice', 'POST', SEND, invalid, key('schema-1'))
  t.equal(first.statusCode, 400)
  t.equal(first.json().code, 6017)
  t.match(first.json().desc, /text_elem_content is required/)
  isReplayOf(t, await g.call('alice', 'POST', SEND, invalid, key('schema-1')), first, 'a schema 400')
  isMismatch(t, await g.call('alice', 'POST', SEND, text('fixed'), key('schema-1')), 'a corrected body with the key of the 400')
  t.same(await history(g, 'alice', 'c2c_bob'), [], 'nothing was written')
})

t.test('when the key is not 1-255 printable ASCII characters, then 400 6017 and nothing is written', async t => {
  const g = await build(t)
  for (const [name, bad] of [['256 characters', 'k'.repeat(256)], ['a space', 'a b'], ['a tab', 'a\tb']] as const) {
    const res = await g.call('alice', 'POST', SEND, text('x'), key(bad))
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, 6017, name)
    t.match(res.json().desc, /Idempotency-Key/, name)
  }
  t.same(await history(g, 'alice', 'c2c_bob'), [], 'nothing was written')
  const longest = await g.call('alice', 'POST', SEND, text('x'), key('k'.repeat(255)))
  t.equal(longest.statusCode, 200, '255 characters is a valid key')
  const punctuation = await g.call('alice', 'POST', SEND, text('y'), key('!~"{}:/'))
  t.equal(punctuation.statusCode, 200, 'any printable ASCII')
  isReplayOf(t, await g.call('alice', 'POST', SEND, text('x'), key('k'.repeat(255))), longest, 'the longest key')
})

t.test('when there is no Idempotency-Key, then identical requests each write', async t => {
  const g = await build(t)
  const a = await g.call('alice', 'POST', SEND, text('twice'))
  const b = await g.call('alice', 'POST', SEND, text('twice'))
  t.equal(a.statusCode, 200)
  t.equal(b.statusCode, 200)
  t.equal(b.headers['idempotent-replayed'], undefined)
  t.not(b.json().message_msg_id, a.json().message_msg_id)
  t.same((await history(g, 'alice', 'c2c_bob')).map(m => m.message_seq), [1, 2], 'two messages')
})

t.test('when a key is older than 24 hours, then it is forgotten and the request runs again', async t => {
  const { g, clock } = await clocked(t)
  const first = await g.call('alice', 'POST', SEND, text('daily'), key('day-1'))
  t.equal(first.statusCode, 200)
  clock.now += DAY - 1
  isReplayOf(t, await g.call('alice', 'POST', SEND, text('daily'), key('day-1')), first, 'just within 24 hours')
  t.equal((await history(g, 'alice', 'c2c_bob')).length, 1)
  clock.now += 2
  const later = await g.call('alice', 'POST', SEND, text('daily'), key('day-1'))
  t.equal(later.statusCode, 200)
  t.equal(later.headers['idempotent-replayed'], undefined, 'not a replay')
  t.not(later.json().message_msg_id, first.json().message_msg_id, 'a new message')
  t.equal(later.json().message_seq, 2)
  t.equal((await history(g, 'alice', 'c2c_bob')).length, 2)
  isReplayOf(t, await g.call('alice', 'POST', SEND, text('daily'), key('day-1')), later, 'the key now holds the new response')
})

t.test('when an online message is sent, then it gets an id but is never stored, listed, found or revocable', async t => {
  const g = await build(t)
  const res = await g.call('alice', 'POST', SEND, text('typing…', { message_is_online_msg: true }))
  t.equal(res.statusCode, 200)
  const m: Msg = res.json()
  t.equal(m.message_seq, 0)
  t.equal(m.message_is_online_msg, true)
  t.match(m.message_msg_id, /^[A-Za-z0-9._~-]{1,64}$/)
  t.equal(m.message_sender, 'alice')
  t.same(m.message_elem_array, [{ elem_type: 0, text_elem_content: 'typing…' }])
  t.same(await history(g, 'alice', 'c2c_bob'), [], 'not listed for the sender')
  t.same(await history(g, 'bob', 'c2c_alice'), [], 'not listed for the peer')
  const locator = { message_locator_seq: 0, message_locator_rand: m.message_rand, message_locator_time: m.message_server_time }
  t.same((await g.call('alice', 'POST', '/conversations/c2c_bob/messages/find', [locator])).json(), [], 'not found by locator (sender)')
  t.same((await g.call('bob', 'POST', '/conversations/c2c_alice/messages/find', [locator])).json(), [], 'not found by locator (peer)')
  const byId = await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', m)
  t.equal(byId.statusCode, 404, 'revoking it by msg_id → 404')
  const withoutId: Record<string, unknown> = { ...m }
  delete withoutId.message_msg_id
  const byLocator = await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', withoutId)
  t.equal(byLocator.statusCode, 404, 'revoking it by seq + rand + time → 404')
  t.equal((await g.call('alice', 'POST', SEND, text('stored'))).json().message_seq, 1, 'it took no seq')
  const other = (await g.call('alice', 'POST', SEND, text('typing…', { message_is_online_msg: true }))).json()
  t.not(other.message_msg_id, m.message_msg_id, 'each online message has its own id')
  const online = text('typing…', { message_is_online_msg: true })
  const keyed = await g.call('alice', 'POST', SEND, online, key('online-1'))
  isReplayOf(t, await g.call('alice', 'POST', SEND, online, key('online-1')), keyed, 'an online message with a key')
  t.same((await history(g, 'alice', 'c2c_bob')).map(x => x.message_seq), [1], 'still only the one stored message')
})
