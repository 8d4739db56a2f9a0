import t from 'tap'
import { build, text, type TestApp } from '../helper.js'

/**
 * CONTRACT §12: integer keys take the SDK's ranges; out of range, fractional or beyond
 * 2^53 → 400 6017 naming the key, never rounded. Read-only keys are ignored whatever
 * their value. The bodies are raw JSON text: JSON.parse rounds 18446744073709551616 to
 * 18446744073709552000 before any validation, and that must still be refused.
 */

const SEND = '/conversations/c2c_bob/messages'
const raw = (g: TestApp, user: string, url: string, payload: string) =>
  g.app.inject({ method: 'POST', url, headers: { ...g.as(user), 'content-type': 'application/json' }, payload })
const textElem = '{"elem_type":0,"text_elem_content":"x"}'
/** A message body with `elem` as its one element and `keys` (raw JSON members) beside it. */
const body = (elem: string, keys = '') => `{"message_elem_array":[${elem}]${keys === '' ? '' : `,${keys}`}}`
const withKey = (keys: string) => body(textElem, keys)

const TWO_64 = '18446744073709551616'
const TWO_53 = '9007199254740992'
const ABOVE_2_53 = '9007199254740993'

const refusedOnSend: Array<[string, string, RegExp]> = [
  ['face_elem_index -1', body('{"elem_type":6,"face_elem_index":-1}'), /message_elem_array\[0\]\.face_elem_index/],
  ['face_elem_index 2^32', body('{"elem_type":6,"face_elem_index":4294967296}'), /face_elem_index/],
  ['face_elem_index 2^64', body(`{"elem_type":6,"face_elem_index":${TWO_64}}`), /face_elem_index/],
  ['face_elem_index 1e300', body('{"elem_type":6,"face_elem_index":1e300}'), /face_elem_index/],
  ['face_elem_index 1.5', body('{"elem_type":6,"face_elem_index":1.5}'), /face_elem_index/],
  ['elem_type 2^64', body(`{"elem_type":${TWO_64},"text_elem_content":"x"}`), /message_elem_array\[0\]\.elem_type/],
  ['message_priority 4', withKey('"message_priority":4'), /message_priority/],
  ['message_priority -1', withKey('"message_priority":-1'), /message_priority/],
  ['message_platform 6 (TIMPlatform is 0-5)', withKey('"message_platform":6'), /message_platform/],
  ['message_custom_int -1', withKey('"message_custom_int":-1'), /message_custom_int/],
  ['message_custom_int 2^32', withKey('"message_custom_int":4294967296'), /message_custom_int/],
  ['message_rand 2^64', withKey(`"message_rand":${TWO_64}`), /message_rand/],
  ['message_rand 1.5', withKey('"message_rand":1.5'), /message_rand/],
  ['message_client_time 2^53', withKey(`"message_client_time":${TWO_53}`), /message_client_time/],
  ['message_client_time 2^53+1 (parsed as 2^53)', withKey(`"message_client_time":${ABOVE_2_53}`), /message_client_time/],
  ['message_client_time 1e300', withKey('"message_client_time":1e300'), /message_client_time/],
  ['sound_elem_file_size 2^32', body('{"elem_type":2,"sound_elem_file_size":4294967296,"sound_elem_file_time":1,"sound_elem_url":"https://cdn.example/a.mp3"}'), /sound_elem_file_size/],
  ['image_elem_orig_pic_width 2^32', body('{"elem_type":1,"image_elem_orig_url":"https://cdn.example/a.png","image_elem_orig_pic_width":4294967296}'), /image_elem_orig_pic_width/],
  ['image_elem_format 2^31 (int32)', body('{"elem_type":1,"image_elem_orig_url":"https://cdn.example/a.png","image_elem_format":2147483648}'), /image_elem_format/],
  ['file_elem_business_id 2^64', body(`{"elem_type":4,"file_elem_file_name":"a","file_elem_file_size":1,"file_elem_url":"https://cdn.example/a","file_elem_business_id":${TWO_64}}`), /file_elem_business_id/],
  ['video_elem_video_duration -1', body('{"elem_type":9,"video_elem_video_type":"mp4","video_elem_video_size":1,"video_elem_video_duration":-1,"video_elem_video_url":"https://cdn.example/v.mp4"}'), /video_elem_video_duration/],
  ['a merged message with an integer beyond 2^53', body(`{"elem_type":12,"merge_elem_title":"t","merge_elem_abstract_array":["a"],"merge_elem_compatible_text":"c","merge_elem_message_array":[{"message_seq":${TWO_64},"message_elem_array":[]}]}`),
    /message_elem_array\[0\]\.merge_elem_message_array\[0\]\.message_seq/],
]

t.test('when an integer key a send uses is out of its SDK range, fractional or beyond 2^53, then 400 6017 names it and nothing is stored', async t => {
  const g = await build(t)
  for (const [name, payload, key] of refusedOnSend) {
    const res = await raw(g, 'alice', SEND, payload)
    t.equal(res.statusCode, 400, name)
    t.equal(res.json().code, 6017, name)
    t.match(res.json().desc, key, name)
  }
  const ok = await raw(g, 'alice', SEND, body('{"elem_type":6,"face_elem_index":4294967295}', `"message_rand":4294967295,"message_client_time":9007199254740991,"message_priority":3,"message_custom_int":4294967295`))
  t.equal(ok.statusCode, 200, 'the largest values of each range are fine')
  t.equal(ok.json().message_elem_array[0].face_elem_index, 4294967295)
  t.equal(ok.json().message_client_time, 9007199254740991)
  t.equal(ok.json().message_seq, 1, 'nothing refused was stored')
})

t.test('when read-only keys carry any value on send or batch send, then they are ignored, however large or mistyped', async t => {
  const g = await build(t)
  const readOnly = `"message_seq":${TWO_64},"message_unique_id":1e300,"message_status":-1,"message_server_time":"soon",` +
    `"message_is_read":"yes","message_is_peer_read":3,"message_is_from_self":null,"message_conv_type":99,"message_conv_id":7,` +
    `"message_msg_id":{"x":1},"message_revoker_user_id":[1]`
  const sent = await raw(g, 'alice', SEND, withKey(readOnly))
  t.equal(sent.statusCode, 200, sent.body)
  const m = sent.json()
  t.equal(m.message_seq, 1, 'the server\'s seq')
  t.equal(m.message_status, 2)
  t.ok(Number.isSafeInteger(m.message_unique_id) && m.message_unique_id < 2 ** 53)
  t.equal(m.message_conv_type, 1)
  t.equal(m.message_conv_id, 'bob')
  t.notOk('message_revoker_user_id' in m)
  const batch = await raw(g, 'alice', '/messages/batch', `{"msg_batch_send_param_identifier_array":["carol"],"msg_batch_send_param_msg":${withKey(readOnly)}}`)
  t.equal(batch.statusCode, 200, batch.body)
  t.equal(batch.json()[0].msg_batch_send_result_code, 0)
  t.equal(batch.json()[0].msg_batch_send_result_msg.message_seq, 1)
})

t.test('when import or save gives message_server_time, then it is used, so it is ranged', async t => {
  const g = await build(t)
  for (const value of [TWO_53, TWO_64, '1e300', '-1', '1.5']) {
    const imported = await raw(g, 'alice', `${SEND}/import`, `[${withKey(`"message_server_time":${value}`)}]`)
    t.equal(imported.statusCode, 400, `import ${value}`)
    t.equal(imported.json().code, 6017)
    t.match(imported.json().desc, /\[0\]\.message_server_time/, `import ${value}`)
    const saved = await raw(g, 'alice', `${SEND}/save`, withKey(`"message_server_time":${value}`))
    t.equal(saved.statusCode, 400, `save ${value}`)
    t.match(saved.json().desc, /message_server_time/, `save ${value}`)
  }
  const imported = await raw(g, 'alice', `${SEND}/import`, `[${withKey(`"message_server_time":1700000000,"message_seq":${TWO_64},"message_status":"x"`)}]`)
  t.equal(imported.statusCode, 200, 'other read-only keys are still ignored on import')
  t.equal(imported.json()[0].message_server_time, 1700000000)
})

t.test('when a Message names a message (revoke, read, delete, list anchor), then its locator keys are used and ranged, unless message_msg_id is there', async t => {
  const g = await build(t)
  const sent = (await g.call('alice', 'POST', SEND, text('x'))).json() as { message_msg_id: string, message_seq: number, message_rand: number, message_server_time: number }
  const loc = (over: Record<string, string>) => {
    const keys = { message_seq: String(sent.message_seq), message_rand: String(sent.message_rand), message_server_time: String(sent.message_server_time), ...over }
    return `{${Object.entries(keys).map(([k, v]) => `"${k}":${v}`).join(',')}}`
  }
  const bad: Array<[string, string, RegExp]> = [
    ['seq 2^64', loc({ message_seq: TWO_64 }), /message_seq/],
    ['seq -1', loc({ message_seq: '-1' }), /message_seq/],
    ['rand 2^32', loc({ message_rand: '4294967296' }), /message_rand/],
    ['time 1e300', loc({ message_server_time: '1e300' }), /message_server_time/],
    ['time 1.5', loc({ message_server_time: '1.5' }), /message_server_time/],
  ]
  for (const [name, anchor, key] of bad) {
    for (const [url, payload] of [
      ['/conversations/c2c_bob/revoke', anchor],
      ['/conversations/c2c_bob/read', anchor],
      ['/conversations/c2c_bob/messages/delete', `{"msg_delete_param_msg":${anchor}}`],
      ['/conversations/c2c_bob/messages/query', `{"msg_getmsglist_param_last_msg":${anchor}}`],
    ] as const) {
      const res = await raw(g, 'alice', url, payload)
      t.equal(res.statusCode, 400, `${url} ${name}`)
      t.equal(res.json().code, 6017, `${url} ${name}`)
      t.match(res.json().desc, key, `${url} ${name}`)
    }
  }
  // With message_msg_id the locator keys are not used: a Message passed back is read by its id alone.
  const byId = `{"message_msg_id":"${sent.message_msg_id}","message_seq":${TWO_64},"message_rand":-1,"message_server_time":"x","message_unique_id":1e300,"message_status":"?"}`
  const listed = await raw(g, 'alice', '/conversations/c2c_bob/messages/query', `{"msg_getmsglist_param_last_msg":${byId}}`)
  t.equal(listed.statusCode, 200, listed.body)
  t.equal((await raw(g, 'bob', '/conversations/c2c_alice/read', byId.replace(/"message_msg_id":"[^"]*"/, `"message_msg_id":"${sent.message_msg_id}"`))).statusCode, 204)
  const revoked = await raw(g, 'alice', '/conversations/c2c_bob/revoke', byId)
  t.equal(revoked.statusCode, 200, revoked.body)
  t.equal(revoked.json().message_status, 6)
  const byLocator = await raw(g, 'alice', '/conversations/c2c_bob/revoke', loc({ message_unique_id: TWO_64, message_status: '"x"' }))
  t.equal(byLocator.statusCode, 200, 'other keys beside a valid locator are ignored')
})

t.test('when locators are out of range, then 400 6017 names the key; informative keys are ignored whatever their value', async t => {
  const g = await build(t)
  const sent = (await g.call('alice', 'POST', SEND, text('x'))).json() as { message_msg_id: string, message_seq: number, message_rand: number, message_server_time: number }
  const loc = (over: string) => `[{"message_locator_seq":${sent.message_seq},"message_locator_rand":${sent.message_rand},"message_locator_time":${sent.message_server_time}${over}}]`
  for (const [over, key] of [
    [`,"message_locator_seq":${TWO_64}`, /\[0\]\.message_locator_seq/],
    [',"message_locator_rand":4294967296', /message_locator_rand/],
    [',"message_locator_time":1e300', /message_locator_time/],
    [',"message_locator_seq":0.5', /message_locator_seq/],
  ] as const) {
    const res = await raw(g, 'alice', `${SEND}/find`, loc(over))
    t.equal(res.statusCode, 400, over)
    t.match(res.json(), { code: 6017, desc: key }, over)
  }
  const found = await raw(g, 'alice', `${SEND}/find`, loc(`,"message_locator_unique_id":${TWO_64},"message_locator_is_self":"maybe","message_locator_conv_type":-5`))
  t.equal(found.statusCode, 200, found.body)
  t.equal(found.json().length, 1)
})

t.test('when query strings, path indexes and download parameters carry numbers, then they take their ranges too', async t => {
  const g = await build(t)
  const msgId = (await g.call('alice', 'POST', SEND, { message_elem_array: [{ elem_type: 4, file_elem_file_name: 'a', file_elem_file_size: 1, file_elem_url: 'https://cdn.example/a' }] })).json().message_msg_id as string
  for (const query of [`time_begin=${TWO_64}`, `time_period=${TWO_53}`, 'count=1e300', 'count=2.5', 'message_type=13', `message_type=${TWO_64}`]) {
    const res = await g.call('alice', 'GET', `${SEND}?${query}`)
    t.equal(res.statusCode, 400, query)
    t.match(res.json(), { code: 6017, desc: new RegExp(query.split('=')[0]!) }, query)
  }
  const content = (index: string) => g.call('bob', 'GET', `/conversations/c2c_alice/messages/${msgId}/elements/${index}/content`)
  for (const index of ['4294967296', TWO_64, '-1', '1.5']) {
    const res = await content(index)
    t.equal(res.statusCode, 400, `index ${index}`)
    t.match(res.json(), { code: 6017, desc: /index/ }, `index ${index}`)
  }
  const far = await content('4294967295')
  t.equal(far.statusCode, 404, 'an index in range that the message does not have is not found')
  t.equal(far.json().code, 6021)
  const type = await raw(g, 'bob', '/downloads', `{"msg_download_elem_param_url":"https://cdn.example/a","msg_download_elem_param_type":${TWO_64}}`)
  t.equal(type.statusCode, 400)
  t.match(type.json(), { code: 6017, desc: /msg_download_elem_param_type/ })
  const ignored = await raw(g, 'bob', '/downloads', `{"msg_download_elem_param_url":"https://cdn.example/a","msg_download_elem_param_flag":${TWO_64},"msg_download_elem_param_business_id":-1}`)
  t.equal(ignored.statusCode, 403, 'flag and business_id are not used: ignored (the URL is simply not allow-listed)')
  t.equal(ignored.json().code, 6010)
})

t.test('when the OpenAPI document is read, then every integer a request can carry has a range within 2^53', async t => {
  const g = await build(t)
  await g.app.ready()
  const doc = g.app.swagger() as { paths: Record<string, Record<string, { parameters?: Array<{ name: string, schema?: unknown }>, requestBody?: unknown }>> }
  const unbounded: string[] = []
  const walk = (node: unknown, at: string): void => {
    if (typeof node !== 'object' || node === null) return
    const o = node as Record<string, unknown>
    if (o.type === 'integer') {
      const { minimum: min, maximum: max } = o as { minimum?: number, maximum?: number }
      if (min === undefined || max === undefined || !Number.isSafeInteger(min) || !Number.isSafeInteger(max)) unbounded.push(at)
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`)
  }
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      for (const p of op.parameters ?? []) walk(p.schema, `${method.toUpperCase()} ${path} ${p.name}`)
      walk(op.requestBody, `${method.toUpperCase()} ${path} body`)
    }
  }
  t.same(unbounded, [], 'integers without a safe minimum and maximum')
})
