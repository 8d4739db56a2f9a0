import t from 'tap'
import { build } from '../helper.js'
import { fileElem, upload } from '../fixtures/media.js'

const SEND = '/conversations/c2c_bob/messages'

t.test('when a message references the sender\'s own upload, by id or by url, then it is sent as given', async t => {
  const g = await build(t)
  const { body: u } = await upload(g, 'alice', 'pdf bytes', 'application/pdf')
  const byId = await g.call('alice', 'POST', SEND, { message_elem_array: [fileElem({ id: u.id })] })
  t.equal(byId.statusCode, 200)
  t.equal(byId.json().message_elem_array[0].file_elem_file_id, u.id)
  const byUrl = await g.call('alice', 'POST', SEND, { message_elem_array: [{ elem_type: 1, image_elem_thumb_url: u.url, image_elem_orig_url: 'https://cdn.example/a.png' }] })
  t.equal(byUrl.statusCode, 200)
})

t.test('when a message references another user\'s upload, then 403 10007 and nothing is stored', async t => {
  const g = await build(t)
  const { body: u } = await upload(g, 'carol', 'secret bytes', 'image/png')
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['image id', { elem_type: 1, image_elem_large_id: u.id }, /message_elem_array\[1\]\.image_elem_large_id/],
    ['sound url', { elem_type: 2, sound_elem_file_size: 1, sound_elem_file_time: 1, sound_elem_url: u.url }, /sound_elem_url/],
    ['video snapshot', { elem_type: 9, video_elem_video_type: 'mp4', video_elem_video_size: 1, video_elem_video_duration: 1, video_elem_video_url: 'https://cdn.example/v.mp4', video_elem_image_id: u.id }, /video_elem_image_id/],
  ]
  for (const [name, elem, key] of cases) {
    const res = await g.call('alice', 'POST', SEND, { message_elem_array: [{ elem_type: 0, text_elem_content: 'look' }, elem] })
    t.equal(res.statusCode, 403, name)
    t.equal(res.json().code, 10007, name)
    t.match(res.json().desc, key, name)
  }
  const saved = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/save', { message_elem_array: [fileElem({ id: u.id })] })
  t.equal(saved.statusCode, 403, 'save checks too')
  const imported = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/import', [
    { message_elem_array: [{ elem_type: 0, text_elem_content: 'fine' }] },
    { message_elem_array: [fileElem({ id: u.id })] },
  ])
  t.equal(imported.statusCode, 403, 'import checks too')
  t.match(imported.json().desc, /^\[1\]\.message_elem_array\[0\]\.file_elem_file_id/)
  const batch = await g.call('alice', 'POST', '/messages/batch', { msg_batch_send_param_identifier_array: ['bob', 'dave'], msg_batch_send_param_msg: { message_elem_array: [fileElem({ url: u.url })] } })
  t.equal(batch.statusCode, 403, 'batch send is refused as a whole')
  const history = await g.call('alice', 'GET', '/conversations/c2c_bob/messages')
  t.same(history.json(), [], 'nothing was stored')
})

t.test('when a message references an upload id that does not exist, then 400 6017 naming the key', async t => {
  const g = await build(t)
  const ghost = 'up_0123456789abcdef0123456789abcdef'
  const res = await g.call('alice', 'POST', SEND, { message_elem_array: [fileElem({ id: ghost })] })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 6017)
  t.match(res.json().desc, `message_elem_array[0].file_elem_file_id: there is no upload "${ghost}"`)
  const byUrl = await g.call('alice', 'POST', SEND, { message_elem_array: [fileElem({ url: `/media/${ghost}` })] })
  t.equal(byUrl.statusCode, 400)
  t.match(byUrl.json().desc, /file_elem_url/)
})

t.test('when ids are not in the gateway\'s format, then they are stored as given', async t => {
  const g = await build(t)
  const tencent = '1400187352_144115355158486521_3d2a7b.pdf'
  for (const id of [tencent, 'up_short', 'UP_0123456789ABCDEF0123456789ABCDEF', '/media/up_x']) {
    const res = await g.call('alice', 'POST', SEND, { message_elem_array: [fileElem({ id })] })
    t.equal(res.statusCode, 200, id)
    t.equal(res.json().message_elem_array[0].file_elem_file_id, id, id)
  }
})

t.test('when the admin sends a message with someone\'s upload, then it is allowed', async t => {
  const g = await build(t)
  const { body: u } = await upload(g, 'carol', 'bytes', 'image/png')
  const admin = g.config.adminIdentifier
  const asAlice = await g.call(admin, 'POST', SEND, { message_elem_array: [{ elem_type: 1, image_elem_orig_id: u.id }] }, { 'x-tim-on-behalf-of': 'alice' })
  t.equal(asAlice.statusCode, 200)
  const { body: mine } = await upload(g, admin, 'admin bytes', 'image/png', { 'x-tim-on-behalf-of': 'carol' })
  const carol = await g.call('carol', 'POST', SEND, { message_elem_array: [{ elem_type: 1, image_elem_orig_id: mine.id }] })
  t.equal(carol.statusCode, 200, 'an upload made on behalf of carol is carol\'s')
})
