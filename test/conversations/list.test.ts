import t from 'tap'
import { build, text, type TestApp } from '../helper.js'

interface Info {
  conv_id: string
  conv_type: number
  conv_owner: string
  conv_unread_num: number
  conv_active_time: number
  conv_is_has_lastmsg: boolean
  conv_last_msg?: Record<string, unknown> & { message_msg_id: string, message_status: number }
  conv_is_pinned: boolean
}
interface Page { conversations: Info[], next_cursor: string | null }

/** An app on a clock the test moves (conv_active_time is in seconds). */
async function clocked (t: { teardown (fn: () => unknown): void }): Promise<TestApp & { tick: (s?: number) => void }> {
  let clock = 1_800_000_000
  const g = await build(t, {}, { now: () => clock })
  return Object.assign(g, { tick: (s = 1) => { clock += s } })
}

const page = async (g: TestApp, user: string, query = ''): Promise<Page> => {
  const res = await g.call(user, 'GET', `/conversations${query}`)
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json()
}
const one = async (g: TestApp, user: string, id: string): Promise<Info> => (await g.call(user, 'GET', `/conversations/${id}`)).json()
const total = async (g: TestApp, user: string): Promise<number> => (await g.call(user, 'GET', '/conversations/unread')).json().total_unread_num
const send = async (g: TestApp, from: string, conv: string, content = 'hi') => {
  const res = await g.call(from, 'POST', `/conversations/${conv}/messages`, text(content))
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
  return res.json() as { message_msg_id: string, message_server_time: number }
}

t.test('when messages come and go, then the list shows each conversation with its exact unread count and last message', async t => {
  const g = await clocked(t)
  await send(g, 'alice', 'c2c_bob', 'a1')
  g.tick()
  await send(g, 'carol', 'c2c_bob', 'c1')
  await send(g, 'carol', 'c2c_bob', 'c2')
  g.tick()
  await send(g, 'bob', 'c2c_alice', 'b1')
  const p = await page(g, 'bob')
  t.same(p.conversations.map(c => [c.conv_id, c.conv_type, c.conv_unread_num]), [['alice', 1, 1], ['carol', 1, 2]], 'newest activity first; one\'s own messages are not unread')
  t.equal(p.next_cursor, null)
  const alice = p.conversations[0]!
  t.equal(alice.conv_owner, 'bob')
  t.equal(alice.conv_is_pinned, false)
  t.equal(alice.conv_is_has_lastmsg, true)
  t.match(alice.conv_last_msg, { message_sender: 'bob', message_conv_id: 'alice', message_is_from_self: true, message_is_peer_read: false })
  t.equal(alice.conv_active_time, 1_800_000_002)
  t.equal(await total(g, 'bob'), 3)
  t.same((await page(g, 'alice')).conversations.map(c => [c.conv_id, c.conv_unread_num]), [['bob', 1]])
  t.same((await page(g, 'nobody')), { conversations: [], next_cursor: null }, 'no conversation yet')
})

t.test('when messages are imported, revoked, deleted or read, then unread counts only others\' sent messages still to read', async t => {
  const g = await clocked(t)
  const sent = []
  for (let i = 0; i < 5; i++) sent.push(await send(g, 'alice', 'c2c_bob', `m${i}`))
  const imported = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/import', [text('old', { message_server_time: 1_700_000_000 })])
  t.equal(imported.statusCode, 200)
  t.equal((await one(g, 'bob', 'c2c_alice')).conv_unread_num, 5, 'the import is not unread')
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', { message_msg_id: sent[4]!.message_msg_id })).statusCode, 200)
  const after = await one(g, 'bob', 'c2c_alice')
  t.equal(after.conv_unread_num, 4, 'a revoked message is not unread')
  t.equal(after.conv_last_msg?.message_status, 6, 'the last message is the tombstone')
  t.equal((await g.call('bob', 'DELETE', `/conversations/c2c_alice/messages/${sent[3]!.message_msg_id}`)).statusCode, 204)
  const deleted = await one(g, 'bob', 'c2c_alice')
  t.equal(deleted.conv_unread_num, 3, 'nor one the reader deleted')
  t.equal(deleted.conv_last_msg?.message_msg_id, sent[4]!.message_msg_id, 'the tombstone is still the newest of bob\'s history')
  t.equal((await g.call('bob', 'POST', '/conversations/c2c_alice/read', { message_msg_id: sent[0]!.message_msg_id })).statusCode, 204)
  t.equal((await one(g, 'bob', 'c2c_alice')).conv_unread_num, 2, 'read up to the first')
  t.equal((await g.call('bob', 'DELETE', '/conversations/c2c_alice/messages')).statusCode, 204)
  t.equal((await one(g, 'bob', 'c2c_alice')).conv_unread_num, 0, 'delete all: nothing left to read')
  t.equal((await one(g, 'bob', 'c2c_alice')).conv_is_has_lastmsg, false)
  await send(g, 'alice', 'c2c_bob', 'next')
  t.equal((await one(g, 'bob', 'c2c_alice')).conv_unread_num, 1)
  t.equal((await one(g, 'alice', 'c2c_bob')).conv_unread_num, 0, 'the sender has nothing to read')
})

t.test('when a group is joined, then its history is not unread; tips never are; a kicked member loses it', async t => {
  const g = await clocked(t)
  t.equal((await g.call('olive', 'POST', '/groups', { group_id: 'g1', group_member_array: ['mia'] })).statusCode, 201)
  await send(g, 'olive', 'group_g1', 'before')
  t.equal((await one(g, 'mia', 'group_g1')).conv_unread_num, 1)
  t.equal((await g.call('olive', 'PUT', '/groups/g1/members/max')).statusCode, 200)
  const max = await one(g, 'max', 'group_g1')
  t.equal(max.conv_unread_num, 0, 'a new member starts at 0')
  t.equal(max.conv_last_msg?.message_elem_array instanceof Array, true)
  t.match(max.conv_last_msg, { message_elem_array: [{ elem_type: 5, group_tips_elem_tip_type: 1 }] }, 'the last message is its invite')
  g.tick()
  await send(g, 'mia', 'group_g1', 'hello')
  t.equal((await one(g, 'max', 'group_g1')).conv_unread_num, 1)
  t.equal((await one(g, 'mia', 'group_g1')).conv_unread_num, 1, 'mia\'s own message is not unread; the invite tips is not either')
  t.same((await page(g, 'max')).conversations.map(c => [c.conv_id, c.conv_type]), [['g1', 2]])
  t.equal((await g.call('olive', 'DELETE', '/groups/g1/members/max')).statusCode, 200)
  t.same((await page(g, 'max')).conversations, [], 'a kicked member has no conversation there')
  t.equal(await total(g, 'max'), 0)
  const refused = await g.call('max', 'GET', '/conversations/group_g1')
  t.equal(refused.statusCode, 403)
  t.equal(refused.json().code, 10007)
  t.equal((await g.call('max', 'PUT', '/conversations/group_g1/pin')).statusCode, 403)
  t.equal((await g.call('max', 'GET', '/conversations/group_nope')).json().code, 10010)
  const admin = await g.call('administrator', 'PUT', '/conversations/group_g1/pin')
  t.equal(admin.statusCode, 403, 'the admin reads any group as itself but has no conversation in one it is not in')
  t.equal((await g.call('administrator', 'GET', '/conversations/group_g1')).json().conv_unread_num, 0)
  t.equal((await g.call('administrator', 'GET', '/conversations/group_g1', undefined, { 'x-tim-on-behalf-of': 'olive' })).json().conv_unread_num, 1,
    'acting for a member: that member\'s view')
})

t.test('when conversations are pinned, then they come first, the most recently active first among them', async t => {
  const g = await clocked(t)
  for (const peer of ['p1', 'p2', 'p3', 'p4']) {
    await send(g, peer, 'c2c_me')
    g.tick()
  }
  t.equal((await g.call('me', 'PUT', '/conversations/c2c_p1/pin')).statusCode, 204)
  t.equal((await g.call('me', 'PUT', '/conversations/c2c_p3/pin')).statusCode, 204)
  t.equal((await g.call('me', 'PUT', '/conversations/c2c_p3/pin')).statusCode, 204, 'again: still 204')
  const ids = async () => (await page(g, 'me')).conversations.map(c => `${c.conv_id}${c.conv_is_pinned ? '*' : ''}`)
  t.same(await ids(), ['p3*', 'p1*', 'p4', 'p2'])
  t.equal((await g.call('me', 'DELETE', '/conversations/c2c_p3/pin')).statusCode, 204)
  t.same(await ids(), ['p1*', 'p4', 'p3', 'p2'])
  t.equal((await g.call('me', 'PUT', '/conversations/c2c_later/pin')).statusCode, 204, 'a C2C conversation may be pinned before its first message')
  t.same(await ids(), ['p1*', 'p4', 'p3', 'p2'], 'but it is not listed until then')
  t.equal((await one(g, 'me', 'c2c_later')).conv_is_pinned, true)
  await send(g, 'later', 'c2c_me')
  t.same(await ids(), ['later*', 'p1*', 'p4', 'p3', 'p2'])
})

t.test('when a conversation is deleted, then it leaves the list unpinned with its history, until a new message brings it back', async t => {
  const g = await clocked(t)
  await send(g, 'alice', 'c2c_bob', 'one')
  await send(g, 'carol', 'c2c_bob', 'two')
  await g.call('bob', 'PUT', '/conversations/c2c_alice/pin')
  t.equal((await g.call('bob', 'DELETE', '/conversations/c2c_alice')).statusCode, 204)
  t.same((await page(g, 'bob')).conversations.map(c => c.conv_id), ['carol'])
  const gone = await one(g, 'bob', 'c2c_alice')
  t.same([gone.conv_unread_num, gone.conv_is_has_lastmsg, gone.conv_is_pinned], [0, false, false])
  t.equal((await g.call('bob', 'GET', '/conversations/c2c_alice/messages')).json().length, 0, 'its history is deleted for bob')
  t.equal((await g.call('alice', 'GET', '/conversations/c2c_bob/messages')).json().length, 1, 'not for alice')
  t.equal((await g.call('bob', 'DELETE', '/conversations/c2c_alice')).statusCode, 204, 'again: 204')
  g.tick()
  await send(g, 'alice', 'c2c_bob', 'back')
  const back = await page(g, 'bob')
  t.same(back.conversations.map(c => [c.conv_id, c.conv_unread_num, c.conv_is_pinned]), [['alice', 1, false], ['carol', 1, false]])

  await g.call('olive', 'POST', '/groups', { group_id: 'gd', group_member_array: ['bob'] })
  await send(g, 'olive', 'group_gd', 'x')
  t.equal((await g.call('bob', 'DELETE', '/conversations/group_gd')).statusCode, 204)
  t.notOk((await page(g, 'bob')).conversations.some(c => c.conv_id === 'gd'), 'a deleted group is off the list')
  await send(g, 'olive', 'group_gd', 'y')
  t.same((await page(g, 'bob')).conversations.find(c => c.conv_id === 'gd')?.conv_unread_num, 1, 'its next message brings it back')
  t.equal((await g.call('bob', 'GET', '/conversations/c2c_nobody')).json().conv_is_has_lastmsg, false)
  t.notOk((await page(g, 'bob')).conversations.some(c => c.conv_id === 'nobody'), 'asking for one never adds it')
})

t.test('when every conversation is marked read, then nothing is unread, and the C2C peers hear it', async t => {
  const g = await clocked(t)
  await send(g, 'alice', 'c2c_bob')
  await send(g, 'carol', 'c2c_bob')
  await g.call('olive', 'POST', '/groups', { group_id: 'gr', group_member_array: ['bob'] })
  await send(g, 'olive', 'group_gr')
  t.equal(await total(g, 'bob'), 3)
  const res = await g.call('bob', 'POST', '/conversations/read')
  t.equal(res.statusCode, 204)
  t.equal(await total(g, 'bob'), 0)
  t.ok((await page(g, 'bob')).conversations.every(c => c.conv_unread_num === 0 && c.conv_last_msg?.message_is_read === true))
  const aliceView = (await g.call('alice', 'GET', '/conversations/c2c_bob/messages')).json()
  t.equal(aliceView[0].message_is_peer_read, true, 'alice sees bob read her message')
  t.equal((await g.call('bob', 'POST', '/conversations/read', {})).statusCode, 204, '{} too')
})

t.test('when the list is walked with next_cursor while messages arrive, then no conversation comes twice', async t => {
  const g = await clocked(t)
  const peers = Array.from({ length: 12 }, (_, i) => `u${String(i).padStart(2, '0')}`)
  for (const p of peers) {
    await send(g, p, 'c2c_walker')
    g.tick()
  }
  await g.call('olive', 'POST', '/groups', { group_id: 'gw', group_member_array: ['walker'] })
  for (const p of [peers[3]!, peers[7]!]) t.equal((await g.call('walker', 'PUT', `/conversations/c2c_${p}/pin`)).statusCode, 204)
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const p: Page = await page(g, 'walker', `?count=5${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
    seen.push(...p.conversations.map(c => c.conv_id))
    cursor = p.next_cursor
    // Mid-walk, an early (already seen) and a late (not yet seen) conversation move to the top.
    g.tick()
    await send(g, peers[11]!, 'c2c_walker')
    await send(g, peers[pages]!, 'c2c_walker')
    pages++
  } while (cursor !== null)
  t.equal(new Set(seen).size, seen.length, `no repeat: ${seen.join(',')}`)
  t.same(seen.slice(0, 2), [peers[7], peers[3]], 'the pinned first, across pages')
  t.ok(seen.includes('gw'), 'groups are walked with the rest')
  const full = await page(g, 'walker', '?count=100')
  t.equal(full.conversations.length, 13)
  t.equal(full.next_cursor, null)
})

t.test('when count or cursor is not acceptable, then 400 6017', async t => {
  const g = await clocked(t)
  for (const p of ['a', 'b', 'c']) await send(g, p, 'c2c_me')
  const first = await page(g, 'me', '?count=2')
  t.type(first.next_cursor, 'string')
  for (const q of ['?count=0', '?count=101', '?count=x', '?cursor=nope', `?cursor=${first.next_cursor!.slice(0, -2)}AA`, '?cursor=e30.AAAAAAAAAAAAAAAAAAAAAA', '?cursor=a.b.c']) {
    const res = await g.call('me', 'GET', `/conversations${q}`)
    t.equal(res.statusCode, 400, q)
    t.equal(res.json().code, 6017, q)
  }
  const other = await g.call('you', 'GET', `/conversations?cursor=${encodeURIComponent(first.next_cursor!)}`)
  t.equal(other.statusCode, 400, 'another user\'s cursor was not made for this walk')
  const rest = await page(g, 'me', `?count=2&cursor=${encodeURIComponent(first.next_cursor!)}`)
  t.same(rest.conversations.map(c => c.conv_id), ['a'])
  t.equal(rest.next_cursor, null)
})

t.test('when a user writes to itself, sends online messages or batches, then its list says so without counting its own', async t => {
  const g = await clocked(t)
  await send(g, 'solo', 'c2c_solo', 'note to self')
  t.equal((await g.call('solo', 'POST', '/conversations/c2c_bob/messages', text('live', { message_is_online_msg: true }))).statusCode, 200)
  const batch = await g.call('solo', 'POST', '/messages/batch', { msg_batch_send_param_identifier_array: ['r1', 'r2'], msg_batch_send_param_msg: text('all') })
  t.equal(batch.statusCode, 200)
  const mine = await page(g, 'solo')
  t.same(mine.conversations.map(c => [c.conv_id, c.conv_unread_num]).sort(), [['r1', 0], ['r2', 0], ['solo', 0]], 'no conversation from an online message')
  t.same((await page(g, 'r1')).conversations.map(c => [c.conv_id, c.conv_unread_num]), [['solo', 1]])
  t.same((await page(g, 'bob')).conversations, [], 'an online message is never stored')
  t.equal((await g.call('solo', 'POST', '/conversations/c2c_solo/read', {})).statusCode, 204)
  t.match(await one(g, 'solo', 'c2c_solo'), { conv_id: 'solo', conv_unread_num: 0, conv_last_msg: { message_is_from_self: true } })
})
