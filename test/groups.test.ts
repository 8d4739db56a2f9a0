import t, { type Test } from 'tap'
import { build, text, type TestApp } from './helper.js'

type Elem = Record<string, unknown> & { elem_type: number }
type Msg = Record<string, unknown> & {
  message_msg_id: string
  message_seq: number
  message_rand: number
  message_server_time: number
  message_sender: string
  message_conv_id: string
  message_conv_type: number
  message_status: number
  message_elem_array: Elem[]
}
interface GroupJson {
  group_id: string
  group_name: string
  group_owner: string
  group_admin_array: string[]
  group_member_array: string[]
}

const TIP = { Invite: 1, Quit: 2, Kick: 3, SetAdmin: 4, CancelAdmin: 5 } as const

const enc = encodeURIComponent
const conv = (groupId: string) => `/conversations/group_${enc(groupId)}`
const groupUrl = (groupId: string) => `/groups/${enc(groupId)}`
const memberUrl = (groupId: string, user: string) => `${groupUrl(groupId)}/members/${enc(user)}`
const adminUrl = (groupId: string, user: string) => `${groupUrl(groupId)}/admins/${enc(user)}`

async function create (t: Test, g: TestApp, owner: string, body: Record<string, unknown>): Promise<GroupJson> {
  const res = await g.call(owner, 'POST', '/groups', body)
  t.equal(res.statusCode, 201, `${owner} creates ${JSON.stringify(body)}`)
  return res.json()
}

async function send (t: Test, g: TestApp, user: string, groupId: string, content: string): Promise<Msg> {
  const res = await g.call(user, 'POST', `${conv(groupId)}/messages`, text(content))
  t.equal(res.statusCode, 200, `${user} sends "${content}" in ${groupId}`)
  return res.json()
}

/** The whole group history as `user` (a member, or the app admin) lists it, oldest first. */
async function history (g: TestApp, user: string, groupId: string): Promise<Msg[]> {
  const res = await g.call(user, 'GET', `${conv(groupId)}/messages?count=100&is_forward=true`)
  if (res.statusCode !== 200) throw new Error(`listing ${groupId} as ${user}: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** The element of a group-tips message (and checks it is one). */
const tipsOf = (m: Msg | undefined): Elem => {
  if (m === undefined || m.message_elem_array.length !== 1 || m.message_elem_array[0]!.elem_type !== 5) {
    throw new Error(`not a group-tips message: ${JSON.stringify(m)}`)
  }
  return m.message_elem_array[0]!
}

const textOf = (m: Msg | undefined) => m?.message_elem_array[0]?.text_elem_content

function expectError (t: Test, res: { statusCode: number, json: () => { code: number } }, status: number, code: number, what: string) {
  t.equal(res.statusCode, status, `${what}: status`)
  t.equal(res.json().code, code, `${what}: code`)
}

t.test('when a user creates a group, then it is the owner and GET returns the same group', async t => {
  const g = await build(t)
  const res = await g.call('alice', 'POST', '/groups', { group_id: 'g1', group_name: 'Team', group_member_array: ['bob', 'carol', 'bob', 'alice'] })
  t.equal(res.statusCode, 201)
  const expected: GroupJson = {
    group_id: 'g1',
    group_name: 'Team',
    group_owner: 'alice',
    group_admin_array: [],
    group_member_array: ['alice', 'bob', 'carol'],
  }
  t.same(res.json(), expected, 'the owner is a member; duplicates and the creator collapse')
  for (const user of ['alice', 'bob', 'carol']) {
    const got = await g.call(user, 'GET', '/groups/g1')
    t.equal(got.statusCode, 200, user)
    t.same(got.json(), expected, `${user} sees the same group`)
  }
})

t.test('when group_id is absent, then a URL-safe id is generated and the group works under it', async t => {
  const g = await build(t)
  const a = await create(t, g, 'alice', {})
  const b = await create(t, g, 'alice', { group_name: 'second' })
  t.match(a.group_id, /^[A-Za-z0-9._~-]{1,48}$/, 'URL-safe, at most 48')
  t.match(b.group_id, /^[A-Za-z0-9._~-]{1,48}$/)
  t.not(a.group_id, b.group_id, 'each creation gets its own id')
  t.equal(a.group_owner, 'alice')
  t.same(a.group_member_array, ['alice'])
  t.same(a.group_admin_array, [])
  t.equal(b.group_name, 'second')
  const got = await g.call('alice', 'GET', `/groups/${a.group_id}`)
  t.equal(got.statusCode, 200)
  t.same(got.json(), a)
  t.same(await history(g, 'alice', a.group_id), [], 'a group without invited members has no tips')
  const m = await send(t, g, 'alice', a.group_id, 'first')
  t.equal(m.message_conv_id, a.group_id)
  t.equal(m.message_seq, 1)
})

t.test('when group_id is taken, then 409 with 10021 and the group is unchanged', async t => {
  const g = await build(t)
  const first = await create(t, g, 'alice', { group_id: 'taken', group_member_array: ['bob'] })
  const res = await g.call('mallory', 'POST', '/groups', { group_id: 'taken', group_member_array: ['eve'] })
  expectError(t, res, 409, 10021, 'taken by another user')
  expectError(t, await g.call('alice', 'POST', '/groups', { group_id: 'taken' }), 409, 10021, 'taken by the same user')
  t.same((await g.call('alice', 'GET', '/groups/taken')).json(), first, 'owner and members unchanged')
  expectError(t, await g.call('mallory', 'GET', '/groups/taken'), 403, 10007, 'the second creator did not become a member')
  t.equal((await history(g, 'alice', 'taken')).length, 1, 'only the first creation\'s invite tips')
})

t.test('when a member id or the group id is invalid, then 400 and nothing is created', async t => {
  const g = await build(t)
  const badMembers: unknown[] = ['u'.repeat(33), 'bad\nid', '', 'tab\tid']
  for (const bad of badMembers) {
    const res = await g.call('alice', 'POST', '/groups', { group_id: 'g-members', group_member_array: ['bob', bad] })
    expectError(t, res, 400, 7003, `member ${JSON.stringify(bad)}`)
  }
  expectError(t, await g.call('alice', 'GET', '/groups/g-members'), 404, 10010, 'no group was created')
  const badIds = ['g'.repeat(49), '', 'new\nline', 'tab\tgroup', 'caf\u00e9']
  for (const bad of badIds) {
    const res = await g.call('alice', 'POST', '/groups', { group_id: bad })
    expectError(t, res, 400, 10015, `group id ${JSON.stringify(bad)}`)
  }
  const max = 'g'.repeat(48)
  const ok = await g.call('alice', 'POST', '/groups', { group_id: max, group_member_array: ['bob'] })
  t.equal(ok.statusCode, 201, '48 bytes is fine')
  t.equal((await g.call('bob', 'GET', groupUrl(max))).statusCode, 200)
  const spaced = await g.call('alice', 'POST', '/groups', { group_id: 'with space/and~more' })
  t.equal(spaced.statusCode, 201, 'any printable ASCII')
  t.equal((await g.call('alice', 'GET', groupUrl('with space/and~more'))).json().group_id, 'with space/and~more', 'URL-encoded in paths')
  const created = await g.call('alice', 'POST', '/groups', { group_id: 'g-members', group_member_array: ['bob'] })
  t.equal(created.statusCode, 201, 'the refused id is still free')
  t.equal((await history(g, 'alice', 'g-members')).length, 1, 'and its history holds only this creation\'s tips')
})

t.test('when a non-member uses a group, then every group endpoint answers 403 with 10007 and nothing changes', async t => {
  const g = await build(t)
  await create(t, g, 'alice', { group_id: 'g1', group_member_array: ['bob'] })
  const m = await send(t, g, 'bob', 'g1', 'members only')
  const before = await history(g, 'alice', 'g1')
  const locator = { message_locator_seq: m.message_seq, message_locator_rand: m.message_rand, message_locator_time: m.message_server_time }
  const cases: Array<[string, string, string, unknown]> = [
    ['send', 'POST', `${conv('g1')}/messages`, text('let me in')],
    ['list (GET)', 'GET', `${conv('g1')}/messages`, undefined],
    ['list (query)', 'POST', `${conv('g1')}/messages/query`, {}],
    ['find', 'POST', `${conv('g1')}/messages/find`, [locator]],
    ['read', 'POST', `${conv('g1')}/read`, { message_msg_id: m.message_msg_id }],
    ['read newest', 'POST', `${conv('g1')}/read`, {}],
    ['revoke', 'POST', `${conv('g1')}/revoke`, { message_msg_id: m.message_msg_id }],
    ['get group', 'GET', '/groups/g1', undefined],
    ['add itself', 'PUT', memberUrl('g1', 'dave'), undefined],
    ['kick a member', 'DELETE', memberUrl('g1', 'bob'), undefined],
    ['set admin', 'PUT', adminUrl('g1', 'bob'), undefined],
  ]
  for (const [name, method, url, body] of cases) {
    expectError(t, await g.call('dave', method, url, body), 403, 10007, name)
  }
  t.same(await history(g, 'alice', 'g1'), before, 'history unchanged, the message not revoked')
  t.same((await g.call('alice', 'GET', '/groups/g1')).json().group_member_array, ['alice', 'bob'], 'membership unchanged')
})

t.test('when a group does not exist, then 404 with 10010 on group and conversation endpoints', async t => {
  const g = await build(t)
  await create(t, g, 'alice', { group_id: 'real' })
  const cases: Array<[string, string, string, unknown]> = [
    ['get group', 'GET', '/groups/nosuch', undefined],
    ['add member', 'PUT', memberUrl('nosuch', 'bob'), undefined],
    ['remove member', 'DELETE', memberUrl('nosuch', 'alice'), undefined],
    ['set admin', 'PUT', adminUrl('nosuch', 'bob'), undefined],
    ['cancel admin', 'DELETE', adminUrl('nosuch', 'bob'), undefined],
    ['send', 'POST', `${conv('nosuch')}/messages`, text('x')],
    ['list (GET)', 'GET', `${conv('nosuch')}/messages`, undefined],
    ['list (query)', 'POST', `${conv('nosuch')}/messages/query`, {}],
    ['find', 'POST', `${conv('nosuch')}/messages/find`, []],
    ['read', 'POST', `${conv('nosuch')}/read`, {}],
    ['revoke', 'POST', `${conv('nosuch')}/revoke`, { message_msg_id: '1-1-1' }],
  ]
  for (const [name, method, url, body] of cases) {
    expectError(t, await g.call('alice', method, url, body), 404, 10010, name)
  }
  expectError(t, await g.call(g.config.adminIdentifier, 'GET', '/groups/nosuch'), 404, 10010, 'the app admin too')
  expectError(t, await g.call('alice', 'GET', '/groups/Real'), 404, 10010, 'group ids are case-sensitive')
})

t.test('when members talk in a group, then they share one history with one seq counter, as in C2C', async t => {
  const g = await build(t)
  await create(t, g, 'alice', { group_id: 'room', group_member_array: ['bob', 'carol'] })
  const senders = ['alice', 'bob', 'carol', 'bob', 'alice']
  const sent: Msg[] = []
  for (const [i, user] of senders.entries()) sent.push(await send(t, g, user, 'room', `m${i}`))
  t.same(sent.map(m => m.message_seq), [2, 3, 4, 5, 6], 'after the creation\'s invite tips (seq 1), one counter for all senders')
  for (const m of sent) {
    t.equal(m.message_conv_id, 'room')
    t.equal(m.message_conv_type, 2)
    t.equal(m.message_status, 2)
    t.equal(m.message_is_from_self, true)
  }
  t.same(sent.map(m => m.message_sender), senders)
  const views: Record<string, Msg[]> = {}
  for (const user of ['alice', 'bob', 'carol']) {
    const all = await history(g, user, 'room')
    views[user] = all
    t.same(all.map(m => m.message_seq), [1, 2, 3, 4, 5, 6], `${user} lists seqs 1..6`)
    t.same(all.slice(1).map(m => m.message_msg_id), sent.map(m => m.message_msg_id), `${user} sees the same messages`)
    t.ok(all.every(m => m.message_conv_id === 'room' && m.message_conv_type === 2), `${user}: conv id is the group id, type 2`)
    t.same(all.slice(1).map(m => m.message_is_from_self), senders.map(s => s === user), `${user}: is_from_self from its own side`)
  }
  const newestFirst = (await g.call('carol', 'GET', `${conv('room')}/messages?count=2`)).json()
  t.same(newestFirst.map((m: Msg) => m.message_seq), [6, 5], 'backward from the newest')
  const locators = [sent[3]!, sent[0]!].map(m => ({ message_locator_seq: m.message_seq, message_locator_rand: m.message_rand, message_locator_time: m.message_server_time }))
  const found = await g.call('carol', 'POST', `${conv('room')}/messages/find`, locators)
  t.equal(found.statusCode, 200)
  t.same(found.json().map((m: Msg) => m.message_msg_id), [sent[3]!.message_msg_id, sent[0]!.message_msg_id], 'find in locator order')
  t.same(found.json().map((m: Msg) => textOf(m)), ['m3', 'm0'])
  const read = await g.call('carol', 'POST', `${conv('room')}/read`, {})
  t.equal(read.statusCode, 204, 'a member reports read')
  t.ok((await history(g, 'carol', 'room')).every(m => m.message_is_read === true), 'everything read for carol')
  t.same((await history(g, 'bob', 'room')).map(m => m.message_is_read), views.bob!.map(m => m.message_is_read), 'bob\'s read state unaffected')
  t.same((await g.call('carol', 'GET', '/conversations/c2c_alice/messages')).json(), [], 'nothing leaked into a C2C thread')
})

t.test('when membership changes, then each change appends a group-tips message with its tip type, interleaved with messages', async t => {
  const g = await build(t)
  const made = await create(t, g, 'alice', { group_id: 'club', group_name: 'Club', group_member_array: ['bob'] })
  t.same(made.group_member_array, ['alice', 'bob'])
  await send(t, g, 'bob', 'club', 'hello')
  const steps: Array<[string, string, string, number]> = [
    ['alice', 'PUT', memberUrl('club', 'carol'), 200],
    ['alice', 'PUT', adminUrl('club', 'bob'), 200],
  ]
  for (const [user, method, url, status] of steps) t.equal((await g.call(user, method, url)).statusCode, status, `${user} ${method} ${url}`)
  await send(t, g, 'carol', 'club', 'hi all')
  const addDave = await g.call('bob', 'PUT', memberUrl('club', 'dave'))
  t.equal(addDave.statusCode, 200, 'a group admin adds')
  t.same(addDave.json().group_member_array, ['alice', 'bob', 'carol', 'dave'], 'the answer is the group after the change')
  t.same(addDave.json().group_admin_array, ['bob'])
  const kick = await g.call('bob', 'DELETE', memberUrl('club', 'dave'))
  t.equal(kick.statusCode, 200, 'a group admin kicks a plain member')
  t.same(kick.json().group_member_array, ['alice', 'bob', 'carol'])
  const cancel = await g.call('alice', 'DELETE', adminUrl('club', 'bob'))
  t.equal(cancel.statusCode, 200)
  t.same(cancel.json().group_admin_array, [])
  t.same(cancel.json().group_member_array, ['alice', 'bob', 'carol'], 'a cancelled admin stays a member')
  const quit = await g.call('carol', 'DELETE', memberUrl('club', 'carol'))
  t.equal(quit.statusCode, 200, 'a member quits')
  t.same(quit.json().group_member_array, ['alice', 'bob'])
  await send(t, g, 'alice', 'club', 'bye carol')

  const all = await history(g, 'bob', 'club')
  t.same(all.map(m => m.message_seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'tips and messages share consecutive seqs')
  const expected: Array<[number, string, string[]] | string> = [
    [TIP.Invite, 'alice', ['bob']],
    'hello',
    [TIP.Invite, 'alice', ['carol']],
    [TIP.SetAdmin, 'alice', ['bob']],
    'hi all',
    [TIP.Invite, 'bob', ['dave']],
    [TIP.Kick, 'bob', ['dave']],
    [TIP.CancelAdmin, 'alice', ['bob']],
    [TIP.Quit, 'carol', ['carol']],
    'bye carol',
  ]
  t.equal(all.length, expected.length)
  expected.forEach((e, i) => {
    const m = all[i]
    t.equal(m?.message_conv_id, 'club', `#${i + 1} conv id`)
    t.equal(m?.message_conv_type, 2, `#${i + 1} conv type`)
    if (typeof e === 'string') {
      t.same(m?.message_elem_array, [{ elem_type: 0, text_elem_content: e }], `#${i + 1} is the message "${e}"`)
      return
    }
    const [tipType, opUser, users] = e
    const tips = tipsOf(m)
    t.equal(tips.group_tips_elem_tip_type, tipType, `#${i + 1} tip type ${tipType}`)
    t.equal(tips.group_tips_elem_op_user, opUser, `#${i + 1} op user`)
    t.same(tips.group_tips_elem_user_array, users, `#${i + 1} user array`)
    t.equal(tips.group_tips_elem_group_id, 'club', `#${i + 1} group id`)
  })
  const viaQuery = (await g.call('alice', 'POST', `${conv('club')}/messages/query`, { msg_getmsglist_param_message_type_array: [5], msg_getmsglist_param_count: 100 })).json()
  t.same(viaQuery.map((m: Msg) => m.message_seq), [9, 8, 7, 6, 4, 3, 1], 'the element-type filter finds the tips')
  t.same((await g.call('alice', 'GET', '/groups/club')).json(), {
    group_id: 'club', group_name: 'Club', group_owner: 'alice', group_admin_array: [], group_member_array: ['alice', 'bob'],
  })
})

t.test('when a change changes nothing, then no tips are appended', async t => {
  const g = await build(t)
  await create(t, g, 'alice', { group_id: 'g1', group_member_array: ['bob', 'carol'] })
  t.equal((await g.call('alice', 'PUT', adminUrl('g1', 'carol'))).statusCode, 200)
  const before = await history(g, 'alice', 'g1')
  t.equal(before.length, 2, 'create-invite and set-admin')
  const snapshot = (await g.call('alice', 'GET', '/groups/g1')).json()
  const noops: Array<[string, string]> = [
    ['PUT', memberUrl('g1', 'bob')],
    ['PUT', memberUrl('g1', 'carol')],
    ['PUT', memberUrl('g1', 'alice')],
    ['DELETE', adminUrl('g1', 'bob')],
    ['PUT', adminUrl('g1', 'carol')],
  ]
  for (const [method, url] of noops) {
    const res = await g.call('alice', method, url)
    t.equal(res.statusCode, 200, `${method} ${url}`)
    t.same(res.json(), snapshot, `${method} ${url} answers the unchanged group`)
  }
  t.same(await history(g, 'alice', 'g1'), before, 'no tips appended')
  const next = await send(t, g, 'bob', 'g1', 'after no-ops')
  t.equal(next.message_seq, 3, 'no seq was consumed')
})

t.test('when members without the right change membership or admins, then 403 and nothing is appended', async t => {
  const g = await build(t)
  await create(t, g, 'owner', { group_id: 'g1', group_member_array: ['adm', 'adm2', 'plain', 'plain2'] })
  for (const a of ['adm', 'adm2']) t.equal((await g.call('owner', 'PUT', adminUrl('g1', a))).statusCode, 200)
  const before = await history(g, 'owner', 'g1')
  const snapshot = (await g.call('owner', 'GET', '/groups/g1')).json()
  t.same(snapshot.group_admin_array, ['adm', 'adm2'])
  const refused: Array<[string, string, string, string]> = [
    ['plain', 'PUT', memberUrl('g1', 'newbie'), 'a plain member adds'],
    ['plain', 'DELETE', memberUrl('g1', 'plain2'), 'a plain member kicks a plain member'],
    ['plain', 'DELETE', memberUrl('g1', 'adm'), 'a plain member kicks an admin'],
    ['adm', 'DELETE', memberUrl('g1', 'adm2'), 'an admin kicks another admin'],
    ['adm', 'DELETE', memberUrl('g1', 'owner'), 'an admin kicks the owner'],
    ['owner', 'DELETE', memberUrl('g1', 'owner'), 'the owner quits'],
    [g.config.adminIdentifier, 'DELETE', memberUrl('g1', 'owner'), 'the app admin kicks the owner'],
    ['adm', 'PUT', adminUrl('g1', 'plain'), 'an admin sets an admin'],
    ['adm', 'DELETE', adminUrl('g1', 'adm2'), 'an admin cancels another admin'],
    ['adm', 'DELETE', adminUrl('g1', 'adm'), 'an admin cancels itself'],
    ['plain', 'PUT', adminUrl('g1', 'plain'), 'a plain member makes itself admin'],
  ]
  for (const [user, method, url, name] of refused) {
    expectError(t, await g.call(user, method, url), 403, 10007, name)
  }
  t.same(await history(g, 'owner', 'g1'), before, 'no tips appended')
  t.same((await g.call('owner', 'GET', '/groups/g1')).json(), snapshot, 'membership and roles unchanged')

  const allowed: Array<[string, string, string, number, string]> = [
    ['adm', 'PUT', memberUrl('g1', 'newbie'), TIP.Invite, 'an admin adds'],
    ['adm', 'DELETE', memberUrl('g1', 'plain2'), TIP.Kick, 'an admin kicks a plain member'],
    ['owner', 'DELETE', memberUrl('g1', 'adm2'), TIP.Kick, 'the owner kicks an admin'],
    ['adm', 'DELETE', memberUrl('g1', 'adm'), TIP.Quit, 'an admin quits'],
    ['owner', 'PUT', memberUrl('g1', 'plain2'), TIP.Invite, 'the owner adds'],
  ]
  for (const [user, method, url, tip, name] of allowed) {
    const res = await g.call(user, method, url)
    t.equal(res.statusCode, 200, name)
    const last = (await history(g, 'owner', 'g1')).at(-1)
    t.equal(tipsOf(last).group_tips_elem_tip_type, tip, `${name}: tip type`)
    t.equal(tipsOf(last).group_tips_elem_op_user, user, `${name}: op user`)
  }
  const after = (await g.call('owner', 'GET', '/groups/g1')).json()
  t.same(after.group_admin_array, [])
  t.same(after.group_member_array.slice().sort(), ['newbie', 'owner', 'plain', 'plain2'])
  t.same((await history(g, 'owner', 'g1')).map(m => m.message_seq), [1, 2, 3, 4, 5, 6, 7, 8], 'gapless: refused requests consumed no seq')
})

t.test('when the app admin manages a group it is not in, then it may do everything and read it', async t => {
  const g = await build(t)
  const admin = g.config.adminIdentifier
  await create(t, g, 'alice', { group_id: 'g1', group_member_array: ['bob', 'carol'] })
  await send(t, g, 'bob', 'g1', 'hi')
  const got = await g.call(admin, 'GET', '/groups/g1')
  t.equal(got.statusCode, 200, 'the app admin reads any group')
  t.notOk(got.json().group_member_array.includes(admin), 'without being a member')
  const listed = await history(g, admin, 'g1')
  t.same(listed.map(m => m.message_seq), [1, 2])
  const steps: Array<[string, string, number]> = [
    ['PUT', memberUrl('g1', 'dave'), TIP.Invite],
    ['PUT', adminUrl('g1', 'bob'), TIP.SetAdmin],
    ['DELETE', adminUrl('g1', 'bob'), TIP.CancelAdmin],
    ['DELETE', memberUrl('g1', 'carol'), TIP.Kick],
  ]
  for (const [method, url, tip] of steps) {
    const res = await g.call(admin, method, url)
    t.equal(res.statusCode, 200, `${method} ${url}`)
    const last = (await history(g, 'alice', 'g1')).at(-1)
    t.equal(tipsOf(last).group_tips_elem_tip_type, tip, `${method} ${url}: tip type`)
    t.equal(tipsOf(last).group_tips_elem_op_user, admin, `${method} ${url}: op user`)
  }
  t.same((await g.call('alice', 'GET', '/groups/g1')).json().group_member_array, ['alice', 'bob', 'dave'])
  const own = await g.call(admin, 'POST', '/groups', { group_id: 'g2', group_member_array: ['alice'] })
  t.equal(own.statusCode, 201)
  t.equal(own.json().group_owner, admin, 'the app admin can own a group too')
})

t.test('when a member is kicked or quits, then it loses access at once; re-added, it regains it', async t => {
  const g = await build(t)
  await create(t, g, 'alice', { group_id: 'g1', group_member_array: ['bob', 'carol'] })
  const m = await send(t, g, 'bob', 'g1', 'before the kick')
  t.equal((await g.call('alice', 'DELETE', memberUrl('g1', 'bob'))).statusCode, 200)
  expectError(t, await g.call('bob', 'GET', '/groups/g1'), 403, 10007, 'kicked: get group')
  expectError(t, await g.call('bob', 'POST', `${conv('g1')}/messages`, text('still here?')), 403, 10007, 'kicked: send')
  expectError(t, await g.call('bob', 'GET', `${conv('g1')}/messages`), 403, 10007, 'kicked: list')
  expectError(t, await g.call('bob', 'POST', `${conv('g1')}/revoke`, { message_msg_id: m.message_msg_id }), 403, 10007, 'kicked: revoke its own message')
  t.equal((await g.call('carol', 'DELETE', memberUrl('g1', 'carol'))).statusCode, 200)
  expectError(t, await g.call('carol', 'GET', `${conv('g1')}/messages`), 403, 10007, 'quit: list')
  t.equal((await history(g, 'alice', 'g1')).length, 4, 'invite, message, kick, quit; bob\'s attempts left nothing')
  t.equal((await g.call('alice', 'PUT', memberUrl('g1', 'bob'))).statusCode, 200)
  t.equal((await g.call('bob', 'GET', '/groups/g1')).statusCode, 200, 're-added: access again')
  t.equal((await send(t, g, 'bob', 'g1', 'back')).message_seq, 6)
})

t.test('when a client sends a group-tips element into a group, then 400 with 6016 and nothing is stored', async t => {
  const g = await build(t)
  await create(t, g, 'alice', { group_id: 'g1', group_member_array: ['bob'] })
  const forged = {
    message_elem_array: [{ elem_type: 5, group_tips_elem_tip_type: 3, group_tips_elem_op_user: 'alice', group_tips_elem_user_array: ['bob'], group_tips_elem_group_id: 'g1' }],
  }
  for (const user of ['bob', 'alice', g.config.adminIdentifier]) {
    expectError(t, await g.call(user, 'POST', `${conv('g1')}/messages`, forged), 400, 6016, user)
  }
  t.equal((await history(g, 'alice', 'g1')).length, 1, 'only the creation tips')
  t.same((await g.call('alice', 'GET', '/groups/g1')).json().group_member_array, ['alice', 'bob'], 'a forged kick kicks nobody')
})

t.test('when group messages are revoked, then the sender within the window and the owner and admins at any time may', async t => {
  let clock = 1_700_000_000
  const g = await build(t, { TIM_REVOKE_WINDOW_S: '60' }, { now: () => clock })
  await create(t, g, 'owner', { group_id: 'g1', group_member_array: ['adm', 'm1', 'm2'] })
  t.equal((await g.call('owner', 'PUT', adminUrl('g1', 'adm'))).statusCode, 200)
  const revoke = (user: string, m: Msg) => g.call(user, 'POST', `${conv('g1')}/revoke`, { message_msg_id: m.message_msg_id })

  const own = await send(t, g, 'm1', 'g1', 'oops')
  const others = await send(t, g, 'm1', 'g1', 'not yours')
  expectError(t, await revoke('m2', others), 403, 10007, 'a plain member revokes another\'s message')
  clock += 59
  const mine = await revoke('m1', own)
  t.equal(mine.statusCode, 200, 'the sender within the window')
  t.equal(mine.json().message_status, 6)
  t.equal(mine.json().message_revoker_user_id, 'm1')
  t.same(mine.json().message_elem_array, [])

  const late = await send(t, g, 'm1', 'g1', 'too late')
  const byOwner = await send(t, g, 'm2', 'g1', 'owner will revoke')
  const byAdmin = await send(t, g, 'm2', 'g1', 'admin will revoke')
  const ownerMsg = await send(t, g, 'owner', 'g1', 'admin revokes the owner')
  clock += 61
  expectError(t, await revoke('m1', late), 403, 10031, 'the sender past the window')
  expectError(t, await revoke('m1', byOwner), 403, 10007, 'a plain member, past the window, another\'s message')
  const o = await revoke('owner', byOwner)
  t.equal(o.statusCode, 200, 'the owner revokes a member\'s message past the window')
  t.equal(o.json().message_revoker_user_id, 'owner')
  t.equal(o.json().message_status, 6)
  const a = await revoke('adm', byAdmin)
  t.equal(a.statusCode, 200, 'a group admin revokes a member\'s message past the window')
  t.equal(a.json().message_revoker_user_id, 'adm')
  const ao = await revoke('adm', ownerMsg)
  t.equal(ao.statusCode, 200, 'a group admin revokes any member\'s message, the owner\'s too')
  const again = await revoke('m2', byOwner)
  t.equal(again.statusCode, 200, 'revoking a revoked message returns the tombstone')
  t.equal(again.json().message_revoker_user_id, 'owner')

  const all = await history(g, 'm2', 'g1')
  const status = new Map(all.map(m => [m.message_msg_id, m]))
  t.equal(status.get(own.message_msg_id)?.message_status, 6)
  t.equal(status.get(others.message_msg_id)?.message_status, 2, 'the refused revoke left it alone')
  t.same(status.get(others.message_msg_id)?.message_elem_array, [{ elem_type: 0, text_elem_content: 'not yours' }])
  t.equal(status.get(late.message_msg_id)?.message_status, 2, 'the late revoke left it alone')
  t.equal(status.get(byOwner.message_msg_id)?.message_status, 6)
  t.same(status.get(byOwner.message_msg_id)?.message_elem_array, [], 'content erased for everyone')
  t.equal(status.get(byAdmin.message_msg_id)?.message_status, 6)
  t.equal(status.get(ownerMsg.message_msg_id)?.message_status, 6)
  const adminApp = await revoke(g.config.adminIdentifier, late)
  t.equal(adminApp.statusCode, 200, 'the app admin revokes anything')
  t.equal(adminApp.json().message_revoker_user_id, g.config.adminIdentifier)
})

t.test('when a member path names an invalid UserID, then 400 with 7003', async t => {
  const g = await build(t)
  await create(t, g, 'alice', { group_id: 'g1' })
  for (const bad of ['u'.repeat(33), 'tab\tid']) {
    expectError(t, await g.call('alice', 'PUT', memberUrl('g1', bad)), 400, 7003, `PUT ${JSON.stringify(bad)}`)
  }
  t.same(await history(g, 'alice', 'g1'), [], 'nothing appended')
})

t.test('when members are added after a large creation, then group_member_array keeps join order', async t => {
  const g = await build(t)
  const invited = Array.from({ length: 300 }, (_, i) => `m${String(i).padStart(3, '0')}`)
  await create(t, g, 'zed', { group_id: 'big', group_member_array: invited })
  const res = await g.call('zed', 'PUT', memberUrl('big', 'aaa'))
  t.equal(res.statusCode, 200)
  t.same(res.json().group_member_array, ['zed', ...invited, 'aaa'], 'the answer of the change')
  t.same((await g.call('zed', 'GET', '/groups/big')).json().group_member_array, ['zed', ...invited, 'aaa'], 'GET, read back from the store')
})

t.test('when the same membership change races with itself, then it is applied once with one tips message', async t => {
  const g = await build(t)
  await create(t, g, 'alice', { group_id: 'g1', group_member_array: ['bob', 'carol'] })
  const adds = await Promise.all(Array.from({ length: 5 }, () => g.call('alice', 'PUT', memberUrl('g1', 'dave'))))
  t.same(adds.map(r => r.statusCode), [200, 200, 200, 200, 200])
  const kicks = await Promise.all(Array.from({ length: 5 }, () => g.call('alice', 'DELETE', memberUrl('g1', 'bob'))))
  t.same(kicks.map(r => r.statusCode), [200, 200, 200, 200, 200])
  const tips = (await history(g, 'alice', 'g1')).map(m => tipsOf(m).group_tips_elem_tip_type)
  t.same(tips, [TIP.Invite, TIP.Invite, TIP.Kick], 'one invite for dave, one kick for bob')
  t.same((await g.call('alice', 'GET', '/groups/g1')).json().group_member_array, ['alice', 'carol', 'dave'])
})
