import t from 'tap'
import { build, type TestApp } from '../helper.js'
import { bytes, fileElem, sendElems, sha256, upload } from '../fixtures/media.js'

const content = (to: string, msgId: string, index: number, query = '') => `/conversations/c2c_${to}/messages/${msgId}/elements/${index}/content${query}`
const get = (g: TestApp, user: string, url: string, headers: Record<string, string> = {}) => g.app.inject({ method: 'GET', url, headers: { ...g.as(user), ...headers } })
const post = (g: TestApp, user: string, param: Record<string, unknown>, headers: Record<string, string> = {}) =>
  g.app.inject({ method: 'POST', url: '/downloads', headers: { ...g.as(user), ...headers }, payload: param })

/** alice uploads `data` and sends it to bob as a file element; the upload and the msg_id. */
async function sentFile (g: TestApp, data: Buffer, name = 'report.pdf') {
  const { body: u } = await upload(g, 'alice', data, 'application/pdf')
  const msgId = await sendElems(g, 'alice', 'bob', [{ elem_type: 0, text_elem_content: 'see attached' }, fileElem({ id: u.id }, name)])
  return { u, msgId }
}

t.test('when an upload is sent and downloaded by both ends, through GET and POST /downloads, then the bytes and their sha256 ETag come back', async t => {
  const g = await build(t)
  const data = bytes(100_000)
  const { u, msgId } = await sentFile(g, data)
  for (const [name, res] of [
    ['GET by the peer', await get(g, 'bob', content('alice', msgId, 1))],
    ['GET by the sender', await get(g, 'alice', content('bob', msgId, 1))],
    ['POST by id', await post(g, 'bob', { msg_download_elem_param_type: 1, msg_download_elem_param_id: u.id })],
    ['POST by url', await post(g, 'alice', { msg_download_elem_param_url: u.url, msg_download_elem_param_flag: 2, msg_download_elem_param_business_id: 0 })],
  ] as const) {
    t.equal(res.statusCode, 200, name)
    t.equal(sha256(res.rawPayload), sha256(data), `${name}: the same bytes`)
    t.equal(res.headers.etag, `"${sha256(data)}"`, name)
    t.equal(res.headers['content-length'], '100000', name)
    t.equal(res.headers['content-type'], 'application/pdf', name)
    t.equal(res.headers['accept-ranges'], 'bytes', name)
    t.equal(res.headers['x-content-type-options'], 'nosniff', name)
  }
})

t.test('when a Range is asked, then one satisfiable range is 206, an unsatisfiable one 416, several are ignored', async t => {
  const g = await build(t)
  const data = bytes(1000)
  const { u, msgId } = await sentFile(g, data)
  const url = content('alice', msgId, 1)
  const cases: Array<[string, number, string | undefined, Buffer | undefined]> = [
    ['bytes=0-99', 206, 'bytes 0-99/1000', data.subarray(0, 100)],
    ['bytes=990-', 206, 'bytes 990-999/1000', data.subarray(990)],
    ['bytes=-10', 206, 'bytes 990-999/1000', data.subarray(990)],
    ['bytes=900-5000', 206, 'bytes 900-999/1000', data.subarray(900)],
    ['bytes=1000-', 416, 'bytes */1000', undefined],
    ['bytes=-0', 416, 'bytes */1000', undefined],
    ['bytes=0-1,5-6', 200, undefined, data],
    ['bytes=5-1', 200, undefined, data],
    ['items=0-1', 200, undefined, data],
  ]
  for (const [range, status, contentRange, body] of cases) {
    const res = await get(g, 'bob', url, { range })
    t.equal(res.statusCode, status, range)
    t.equal(res.headers['content-range'], contentRange, range)
    if (body !== undefined) {
      t.same(res.rawPayload, body, range)
      t.equal(res.headers['content-length'], String(body.length), range)
    } else {
      t.equal(res.json().code, 6017, range)
    }
  }
  const byParam = await post(g, 'bob', { msg_download_elem_param_id: u.id }, { range: 'bytes=10-19' })
  t.equal(byParam.statusCode, 206)
  t.same(byParam.rawPayload, data.subarray(10, 20))
  const staleIfRange = await get(g, 'bob', url, { range: 'bytes=0-9', 'if-range': '"old"' })
  t.equal(staleIfRange.statusCode, 200, 'If-Range with another ETag: the whole content')
  const freshIfRange = await get(g, 'bob', url, { range: 'bytes=0-9', 'if-range': `"${sha256(data)}"` })
  t.equal(freshIfRange.statusCode, 206)
})

t.test('when If-None-Match names the ETag, then 304 without a body', async t => {
  const g = await build(t)
  const data = bytes(500)
  const { msgId } = await sentFile(g, data)
  const etag = `"${sha256(data)}"`
  for (const inm of [etag, `W/${etag}`, `"x", ${etag}`, '*']) {
    const res = await get(g, 'bob', content('alice', msgId, 1), { 'if-none-match': inm })
    t.equal(res.statusCode, 304, inm)
    t.equal(res.body, '', inm)
    t.equal(res.headers.etag, etag, inm)
  }
  const other = await get(g, 'bob', content('alice', msgId, 1), { 'if-none-match': '"other"' })
  t.equal(other.statusCode, 200)
})

t.test('when a file element is downloaded, then Content-Disposition carries its name, also in UTF-8', async t => {
  const g = await build(t)
  const { msgId } = await sentFile(g, bytes(10), '季度 "报告" 50%.pdf')
  const res = await get(g, 'bob', content('alice', msgId, 1))
  t.equal(res.headers['content-disposition'],
    'attachment; filename="__ ____ 50_.pdf"; filename*=UTF-8\'\'%E5%AD%A3%E5%BA%A6%20%22%E6%8A%A5%E5%91%8A%22%2050%25.pdf')
  const { body: img } = await upload(g, 'alice', bytes(10), 'image/png')
  const imageMsg = await sendElems(g, 'alice', 'bob', [{ elem_type: 1, image_elem_orig_id: img.id }])
  t.equal((await get(g, 'bob', content('alice', imageMsg, 0))).headers['content-disposition'], undefined, 'only files are attachments')
})

t.test('when images have some renditions and videos a snapshot, then the choice and the fallback follow them', async t => {
  const g = await build(t)
  const thumb = bytes(30, 7)
  const video = bytes(80, 8)
  const snap = bytes(40, 9)
  const { body: ut } = await upload(g, 'alice', thumb, 'image/jpeg')
  const { body: uv } = await upload(g, 'alice', video, 'video/mp4')
  const { body: us } = await upload(g, 'alice', snap, 'image/jpeg')
  const msgId = await sendElems(g, 'alice', 'bob', [
    { elem_type: 1, image_elem_thumb_id: ut.id, image_elem_large_id: '' },
    { elem_type: 9, video_elem_video_type: 'mp4', video_elem_video_size: 80, video_elem_video_duration: 1, video_elem_video_id: uv.id, video_elem_image_url: us.url },
  ])
  t.same((await get(g, 'bob', content('alice', msgId, 0))).rawPayload, thumb, 'no orig, no large: the thumb')
  t.same((await get(g, 'bob', content('alice', msgId, 0, '?rendition=thumb'))).rawPayload, thumb)
  const noOrig = await get(g, 'bob', content('alice', msgId, 0, '?rendition=orig'))
  t.equal(noOrig.statusCode, 404)
  t.equal(noOrig.json().code, 6021)
  t.equal((await get(g, 'bob', content('alice', msgId, 0, '?rendition=huge'))).statusCode, 400)
  t.same((await get(g, 'bob', content('alice', msgId, 1))).rawPayload, video)
  t.same((await get(g, 'bob', content('alice', msgId, 1, '?snapshot=true'))).rawPayload, snap)
  t.same((await post(g, 'bob', { msg_download_elem_param_type: 0, msg_download_elem_param_url: us.url })).rawPayload, snap)
  t.same((await post(g, 'bob', { msg_download_elem_param_type: 2, msg_download_elem_param_id: uv.id })).rawPayload, video)
  t.equal((await post(g, 'bob', { msg_download_elem_param_type: 3, msg_download_elem_param_id: uv.id })).statusCode, 404, 'a video is not a sound')
})

t.test('when the caller may not see the message or there is nothing to download, then 404 (403 for a group it is not in)', async t => {
  const g = await build(t)
  const { u, msgId } = await sentFile(g, bytes(10))
  const tencentOnly = await sendElems(g, 'alice', 'bob', [fileElem({ id: '1400187352_1441_abc.pdf' })])
  const cases: Array<[string, string, number, number]> = [
    ['a third user', content('alice', msgId, 1).replace('c2c_alice', 'c2c_bob'), 404, 6021],
    ['the wrong conversation', content('carol', msgId, 1), 404, 6021],
    ['an unknown message', content('alice', '999-1-1', 1), 404, 6021],
    ['an element out of range', content('alice', msgId, 5), 404, 6021],
    ['a text element', content('alice', msgId, 0), 404, 6021],
    ['an id of imported history without a URL', content('alice', tencentOnly, 0), 404, 6021],
    ['a negative index', content('alice', msgId, -1), 400, 6017],
    ['a bad conversation', '/conversations/x/messages/1-1-1/elements/0/content', 400, 6004],
    ['a group it is not in', '/conversations/group_nosuch/messages/1-1-1/elements/0/content', 404, 10010],
  ]
  for (const [name, url, status, code] of cases) {
    const res = await get(g, name === 'a third user' ? 'carol' : 'bob', url)
    t.equal(res.statusCode, status, name)
    t.equal(res.json().code, code, name)
  }
  const stranger = await post(g, 'carol', { msg_download_elem_param_id: u.id })
  t.equal(stranger.statusCode, 404, 'POST /downloads: the id is in no message carol can see')
  const nothing = await post(g, 'bob', { msg_download_elem_param_type: 1 })
  t.equal(nothing.statusCode, 400)
  t.match(nothing.json().desc, /msg_download_elem_param_id or msg_download_elem_param_url/)
  const ownUpload = await upload(g, 'bob', 'never sent', 'text/plain')
  t.equal((await post(g, 'bob', { msg_download_elem_param_id: ownUpload.body.id })).statusCode, 404, 'an upload in no message is not a download')
  const anonymous = await g.app.inject({ method: 'GET', url: content('alice', msgId, 1) })
  t.equal(anonymous.statusCode, 401)
})

t.test('when a group member downloads, then membership decides, now', async t => {
  const g = await build(t)
  await g.call('alice', 'POST', '/groups', { group_id: 'team', group_member_array: ['bob'] })
  const { body: u } = await upload(g, 'alice', bytes(64), 'image/png')
  const sent = await g.call('alice', 'POST', '/conversations/group_team/messages', { message_elem_array: [{ elem_type: 1, image_elem_orig_id: u.id }] })
  const msgId = sent.json().message_msg_id as string
  const url = `/conversations/group_team/messages/${msgId}/elements/0/content`
  t.equal((await get(g, 'bob', url)).statusCode, 200)
  t.equal((await post(g, 'bob', { msg_download_elem_param_id: u.id })).statusCode, 200)
  const outsider = await get(g, 'carol', url)
  t.equal(outsider.statusCode, 403)
  t.equal(outsider.json().code, 10007)
  t.equal((await post(g, 'carol', { msg_download_elem_param_id: u.id })).statusCode, 404)
  await g.call('bob', 'DELETE', '/groups/team/members/bob')
  t.equal((await post(g, 'bob', { msg_download_elem_param_id: u.id })).statusCode, 404, 'a member who left sees no more')
})

t.test('when a message is revoked or saved, then its content follows who may see it', async t => {
  const g = await build(t, { TIM_REVOKE_WINDOW_S: '0' })
  const { u, msgId } = await sentFile(g, bytes(10))
  await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', { message_msg_id: msgId })
  t.equal((await post(g, 'bob', { msg_download_elem_param_id: u.id })).statusCode, 404, 'revoked: the reference is gone')
  t.equal((await get(g, 'bob', content('alice', msgId, 1))).statusCode, 404, 'revoked: no element left')
  const { body: s } = await upload(g, 'alice', bytes(20), 'image/png')
  const saved = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/save', { message_elem_array: [{ elem_type: 1, image_elem_orig_id: s.id }] })
  t.equal(saved.statusCode, 200)
  t.equal((await post(g, 'alice', { msg_download_elem_param_id: s.id })).statusCode, 200, 'the owner of a saved message')
  t.equal((await post(g, 'bob', { msg_download_elem_param_id: s.id })).statusCode, 404, 'not the peer')
})
