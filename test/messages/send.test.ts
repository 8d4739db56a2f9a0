import t from 'tap'
import { build, text, type TestApp } from '../helper.js'
import { seed } from '../fixtures/seed.js'

const SEND = '/conversations/c2c_user2/messages'

/** Everything user1 can list in its thread with user2, oldest first. */
async function history (g: TestApp) {
  const res = await g.call('user1', 'POST', '/conversations/c2c_user2/messages/query', { msg_getmsglist_param_is_forward: true, msg_getmsglist_param_count: 100 })
  return res.json() as Array<Record<string, unknown>>
}

t.test('when the seed example is sent verbatim, then the server fills its keys', async t => {
  const g = await build(t)
  const before = Math.floor(Date.now() / 1000)
  const res = await g.app.inject({ method: 'POST', url: SEND, headers: { ...g.as('user1'), 'content-type': 'application/json' }, payload: seed.sendNewMsg })
  t.equal(res.statusCode, 200)
  const m = res.json()
  t.same(m.message_elem_array, [{ elem_type: 0, text_elem_content: 'send text' }])
  t.equal(m.message_sender, 'user1')
  t.equal(m.message_conv_id, 'user2')
  t.equal(m.message_conv_type, 1)
  t.equal(m.message_seq, 1)
  t.equal(m.message_status, 2)
  t.equal(m.message_client_time, 1551446728, 'client time kept as given')
  t.ok(m.message_server_time >= before && m.message_server_time <= before + 5, 'server time is the server\'s, not the client\'s')
  t.ok(Number.isSafeInteger(m.message_unique_id) && m.message_unique_id > 0)
  t.match(m.message_msg_id, /^[A-Za-z0-9._~-]{1,64}$/)
  t.ok(Number.isInteger(m.message_rand) && m.message_rand >= 0 && m.message_rand < 2 ** 32)
  t.equal(m.message_is_from_self, true)
  t.equal(m.message_is_read, true)
  t.equal(m.message_is_online_msg, false)
})

t.test('when both ends look at a C2C thread, then each sees it from its own side', async t => {
  const g = await build(t)
  const sent = (await g.call('user1', 'POST', SEND, text('hi'))).json()
  const [seen] = (await g.call('user2', 'GET', '/conversations/c2c_user1/messages')).json()
  t.equal(seen.message_msg_id, sent.message_msg_id)
  t.equal(seen.message_conv_id, 'user1')
  t.equal(seen.message_is_from_self, false)
  t.equal(seen.message_is_read, false)
  const reply = (await g.call('user2', 'POST', '/conversations/c2c_user1/messages', text('yo'))).json()
  t.equal(reply.message_seq, 2, 'one seq counter for the shared thread')
  t.same((await g.call('user3', 'GET', '/conversations/c2c_user1/messages')).json(), [], 'a third user sees nothing of it')
})

t.test('when a message carries the client rand and unknown or read-only keys, then rand is kept and the rest is not stored', async t => {
  const g = await build(t)
  const res = await g.call('user1', 'POST', SEND, {
    message_elem_array: [{ elem_type: 0, text_elem_content: 'x', bogus_elem_key: 1 }],
    message_rand: 42,
    message_seq: 999,
    message_status: 6,
    message_unique_id: 7,
    message_msg_id: 'forged',
    message_is_peer_read: true,
    message_server_time: 5,
    message_conv_id: 'someone-else',
    message_custom_moderation_configuration_id: 'cfg',
    totally_unknown: { a: 1 },
  })
  t.equal(res.statusCode, 200)
  const m = res.json()
  t.equal(m.message_rand, 42)
  t.equal(m.message_seq, 1)
  t.equal(m.message_status, 2)
  t.not(m.message_msg_id, 'forged')
  t.equal(m.message_conv_id, 'user2')
  const [stored] = await history(g)
  t.same(stored!.message_elem_array, [{ elem_type: 0, text_elem_content: 'x' }])
  t.notOk('totally_unknown' in stored!)
  t.notOk('message_custom_moderation_configuration_id' in stored!)
})

t.test('when a returned message is passed back to send, then it is accepted as a new message', async t => {
  const g = await build(t)
  const first = (await g.call('user1', 'POST', SEND, text('again'))).json()
  const second = await g.call('user1', 'POST', SEND, first)
  t.equal(second.statusCode, 200)
  t.equal(second.json().message_seq, 2)
  t.not(second.json().message_msg_id, first.message_msg_id)
})

t.test('when the old push-config spelling is used, then it is returned under the new name', async t => {
  const g = await build(t)
  const push = { offline_push_config_desc: 'ping', offline_push_config_flag: 0 }
  const m = (await g.call('user1', 'POST', SEND, text('x', { message_offlie_push_config: push, message_cloud_custom_str: 'c', message_priority: 1 }))).json()
  t.same(m.message_offline_push_config, push)
  t.notOk('message_offlie_push_config' in m)
  t.equal(m.message_cloud_custom_str, 'c')
  t.equal(m.message_priority, 1)
})

const sendable: Array<[string, Record<string, unknown>]> = [
  ['text', { elem_type: 0, text_elem_content: 't' }],
  ['image by url', { elem_type: 1, image_elem_orig_url: 'https://cdn.example/a.png', image_elem_level: 1, image_elem_orig_pic_width: 10 }],
  ['image by thumb id', { elem_type: 1, image_elem_thumb_id: 'abc' }],
  ['sound', { elem_type: 2, sound_elem_file_size: 10, sound_elem_file_time: 3, sound_elem_url: 'https://cdn.example/a.mp3' }],
  ['custom', { elem_type: 3, custom_elem_data: '{"k":1}', custom_elem_desc: 'd' }],
  ['file', { elem_type: 4, file_elem_file_name: 'a.pdf', file_elem_file_size: 100, file_elem_url: 'https://cdn.example/a.pdf', file_elem_file_path: '/local/a.pdf' }],
  ['face', { elem_type: 6, face_elem_index: 3 }],
  ['location', { elem_type: 7, location_elem_longitude: -180, location_elem_latitude: 90, location_elem_desc: 'edge' }],
  ['video', { elem_type: 9, video_elem_video_type: 'mp4', video_elem_video_size: 1, video_elem_video_duration: 2, video_elem_video_url: 'https://cdn.example/v.mp4' }],
  ['merge', { elem_type: 12, merge_elem_title: 't', merge_elem_abstract_array: ['a'], merge_elem_compatible_text: 'c', merge_elem_message_array: [{ message_elem_array: [{ elem_type: 0, text_elem_content: 'x' }] }] }],
]

t.test('when each sendable element type is sent, then it is stored as given', async t => {
  const g = await build(t)
  for (const [name, elem] of sendable) {
    const res = await g.call('user1', 'POST', SEND, { message_elem_array: [elem] })
    t.equal(res.statusCode, 200, name)
    t.same(res.json().message_elem_array, [elem], name)
  }
  const all = await history(g)
  t.equal(all.length, sendable.length)
  t.same(all.map(m => (m.message_elem_array as unknown[])[0]), sendable.map(([, e]) => e), 'stored exactly, in order')
})

const refused: Array<[string, unknown, number, RegExp]> = [
  ['group tips', { message_elem_array: [{ elem_type: 5 }] }, 6016, /elem_type 5/],
  ['group report', { message_elem_array: [{ elem_type: 8 }] }, 6016, /elem_type 8/],
  ['friend change', { message_elem_array: [{ elem_type: 10 }] }, 6016, /elem_type 10/],
  ['profile change', { message_elem_array: [{ elem_type: 11 }] }, 6016, /elem_type 11/],
  ['unknown type', { message_elem_array: [{ elem_type: 99 }] }, 6016, /unknown elem_type 99/],
  ['negative type', { message_elem_array: [{ elem_type: -1 }] }, 6016, /elem_type -1/],
  ['two sounds', { message_elem_array: [sendable[3]![1], sendable[3]![1]] }, 6016, /one sound/],
  ['two files', { message_elem_array: [sendable[5]![1], sendable[0]![1], sendable[5]![1]] }, 6016, /message_elem_array\[2\].*one file/],
  ['empty element array', { message_elem_array: [] }, 6017, /message_elem_array/],
  ['no element array', { message_sender: 'user1' }, 6017, /message_elem_array is required/],
  ['missing text', { message_elem_array: [{ elem_type: 0 }] }, 6017, /message_elem_array\[0\]\.text_elem_content is required/],
  ['text not a string', { message_elem_array: [{ elem_type: 0, text_elem_content: 5 }] }, 6017, /text_elem_content must be string/],
  ['elem_type as string', { message_elem_array: [{ elem_type: '0', text_elem_content: 'x' }] }, 6017, /elem_type must be integer/],
  ['longitude out of range', { message_elem_array: [{ elem_type: 7, location_elem_longitude: 180.5, location_elem_latitude: 0 }] }, 6017, /location_elem_longitude/],
  ['latitude out of range', { message_elem_array: [{ elem_type: 7, location_elem_longitude: 0, location_elem_latitude: -91 }] }, 6017, /location_elem_latitude/],
  ['face without index', { message_elem_array: [{ elem_type: 6 }] }, 6017, /face_elem_index is required/],
  ['image without a reference', { message_elem_array: [{ elem_type: 1, image_elem_orig_path: '/tmp/a.png' }] }, 6017, /image_elem_orig_id/],
  ['file without a reference', { message_elem_array: [{ elem_type: 4, file_elem_file_name: 'a', file_elem_file_size: 1 }] }, 6017, /file_elem_file_id, file_elem_url/],
  ['rand as string', text('x', { message_rand: '5' }), 6017, /message_rand must be integer/],
  ['rand above 32 bits', text('x', { message_rand: 2 ** 32 }), 6017, /message_rand/],
  ['client time negative', text('x', { message_client_time: -1 }), 6017, /message_client_time/],
  ['body is an array', [text('x')], 6017, /must be object/],
  ['body is a string', 'hello', 6017, /must be object/],
  ['elements too large', { message_elem_array: [{ elem_type: 0, text_elem_content: 'x'.repeat(12 * 1024) }] }, 80002, /12288/],
  ['cloud custom str tips it over 12 KB', { message_elem_array: [{ elem_type: 0, text_elem_content: 'x'.repeat(12 * 1024 - 100) }], message_cloud_custom_str: 'y'.repeat(100) }, 80002, /12288/],
]

t.test('when a message breaks a rule, then it is refused with the code naming what is wrong and nothing is stored', async t => {
  const g = await build(t)
  for (const [name, body, code, desc] of refused) {
    const res = await g.call('user1', 'POST', SEND, JSON.stringify(body), { 'content-type': 'application/json' })
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, code, name)
    t.match(res.json().desc, desc, name)
  }
  t.same(await history(g), [], 'nothing was written')
  const ok = await g.call('user1', 'POST', SEND, { message_elem_array: [{ elem_type: 0, text_elem_content: 'x'.repeat(12 * 1024 - 100) }] })
  t.equal(ok.statusCode, 200, 'just under 12 KB is fine')
  t.equal(ok.json().message_seq, 1, 'refused requests consumed no seq')
  // Elements of exactly 12 KB: the push config counts for nothing, under either spelling.
  const elems = (n: number) => [{ elem_type: 0, text_elem_content: 'x'.repeat(n) }]
  const full = elems(12 * 1024 - JSON.stringify(elems(0)).length)
  t.equal(JSON.stringify(full).length, 12 * 1024)
  for (const key of ['message_offline_push_config', 'message_offlie_push_config']) {
    const res = await g.call('user1', 'POST', SEND, { message_elem_array: full, [key]: { offline_push_config_title: 'a title' } })
    t.equal(res.statusCode, 200, `12 KB of elements with ${key}`)
  }
})

t.test('when message_sender is someone else, then only the admin may do it, for a participant', async t => {
  const g = await build(t)
  const forged = await g.call('user3', 'POST', '/conversations/c2c_user2/messages', text('x', { message_sender: 'user1' }))
  t.equal(forged.statusCode, 403)
  t.equal(forged.json().code, 10007)
  const admin = g.config.adminIdentifier
  const asPeer = await g.call(admin, 'POST', '/conversations/c2c_user2/messages', text('x', { message_sender: 'user2' }))
  t.equal(asPeer.statusCode, 200)
  t.equal(asPeer.json().message_sender, 'user2')
  const stranger = await g.call(admin, 'POST', '/conversations/c2c_user2/messages', text('x', { message_sender: 'user9' }))
  t.equal(stranger.statusCode, 403)
  const onBehalf = await g.call(admin, 'POST', SEND, text('x', { message_sender: 'user1' }), { 'x-tim-on-behalf-of': 'user1' })
  t.equal(onBehalf.statusCode, 200)
  t.equal(onBehalf.json().message_conv_id, 'user2')
  t.equal(onBehalf.json().message_is_from_self, true, 'seen from user1\'s side')
  t.equal((await history(g)).length, 1, 'only the on-behalf message is in user1\'s thread with user2')
})

t.test('when the conversation ID is not valid, then 400 with 6004 or 7003, and unknown groups 404', async t => {
  const g = await build(t)
  const cases: Array<[string, number, number]> = [
    ['bad', 400, 6004],
    ['c2c', 400, 6004],
    ['C2C_user2', 400, 6004],
    ['room_1', 400, 6004],
    ['c2c_', 400, 7003],
    [`c2c_${'u'.repeat(33)}`, 400, 7003],
    ['c2c_%09tab', 400, 7003],
    ['group_', 400, 6004],
    ['group_nosuch', 404, 10010],
  ]
  for (const [id, status, code] of cases) {
    const res = await g.call('user1', 'POST', `/conversations/${id}/messages`, text('x'))
    t.equal(res.statusCode, status, id)
    t.equal(res.json().code, code, id)
  }
  const encoded = await g.call('user1', 'POST', '/conversations/c2c_user%20two/messages', text('x'))
  t.equal(encoded.statusCode, 200, 'URL-encoded printable ASCII is a valid UserID')
  t.equal(encoded.json().message_conv_id, 'user two')
  const underscore = await g.call('user1', 'POST', '/conversations/c2c_a_b/messages', text('x'))
  t.equal(underscore.json().message_conv_id, 'a_b', 'split at the first underscore')
})
