import t from 'tap'
import { build, text } from '../helper.js'

const SEND = '/conversations/c2c_bob/messages'

t.test('when the body is not usable JSON, then a 4xx {code, desc} and nothing is written', async t => {
  const g = await build(t)
  const raw = (payload: string | Buffer, contentType = 'application/json') =>
    g.app.inject({ method: 'POST', url: SEND, headers: { ...g.as('alice'), 'content-type': contentType }, payload })
  const cases: Array<[string, Promise<{ statusCode: number, json: () => { code: number, desc: string } }>, number, number]> = [
    ['malformed JSON', raw('{"message_elem_array": ['), 400, 6027],
    ['trailing garbage', raw('{} x'), 400, 6027],
    ['invalid UTF-8', raw(Buffer.concat([Buffer.from('{"message_elem_array":[{"elem_type":0,"text_elem_content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')])), 400, 6017],
    ['empty body', raw(''), 400, 6017],
    ['text/plain', raw(JSON.stringify(text('x')), 'text/plain'), 415, 6017],
    ['form encoded', raw('a=1', 'application/x-www-form-urlencoded'), 415, 6017],
    ['over 1 MiB', raw(JSON.stringify(text('x'.repeat(1024 * 1024)))), 413, 80002],
  ]
  for (const [name, p, status, code] of cases) {
    const res = await p
    t.equal(res.statusCode, status, name)
    t.equal(res.json().code, code, name)
    t.type(res.json().desc, 'string', name)
  }
  const ok = await raw(JSON.stringify(text('x')), 'application/json; charset=utf-8')
  t.equal(ok.statusCode, 200, 'a charset parameter is fine')
  t.equal(ok.json().message_seq, 1, 'nothing was written before')
})

t.test('when JSON carries __proto__ or constructor keys, then they are dropped and nothing is polluted', async t => {
  const g = await build(t)
  const res = await g.app.inject({
    method: 'POST',
    url: SEND,
    headers: { ...g.as('alice'), 'content-type': 'application/json' },
    payload: '{"message_elem_array":[{"elem_type":0,"text_elem_content":"p","__proto__":{"polluted":1}}],"__proto__":{"isAdmin":true},"constructor":{"prototype":{"x":1}}}',
  })
  t.equal(res.statusCode, 200)
  t.same(res.json().message_elem_array, [{ elem_type: 0, text_elem_content: 'p' }])
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('when an endpoint does not exist, then 404 {code, desc}', async t => {
  const g = await build(t)
  const res = await g.call('alice', 'GET', '/nope')
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 6017)
  t.match(res.json().desc, /GET \/nope/)
  const wrongMethod = await g.call('alice', 'PATCH', SEND, text('x'))
  t.equal(wrongMethod.statusCode, 404)
})

t.test('when many kinds of bad input arrive, then none of them is answered with a 5xx', async t => {
  const g = await build(t)
  const bodies: unknown[] = [null, 0, 'x', [], {}, { message_elem_array: null }, { message_elem_array: [null] }, { message_elem_array: [[]] },
    { message_elem_array: [{}] }, { message_elem_array: [{ elem_type: 1e300 }] }, { message_elem_array: [{ elem_type: 0, text_elem_content: 'x' }], message_sender: 5 },
    { message_elem_array: [{ elem_type: 12, merge_elem_title: 't', merge_elem_abstract_array: [1], merge_elem_compatible_text: '', merge_elem_message_array: [] }] },
    { message_elem_array: [{ elem_type: 0, text_elem_content: 'x' }], message_offline_push_config: 'no' }]
  const urls = [SEND, '/conversations/c2c_bob/messages/query', '/conversations/c2c_bob/messages/find', '/conversations/%ZZ/messages', `/conversations/${'x'.repeat(300)}/messages`]
  for (const url of urls) {
    for (const body of bodies) {
      const res = await g.call('alice', 'POST', url, JSON.stringify(body), { 'content-type': 'application/json' })
      t.ok(res.statusCode >= 200 && res.statusCode < 500, `${url} ${JSON.stringify(body)} → ${res.statusCode}`)
      if (res.statusCode >= 400) t.type(res.json().code, 'number')
    }
  }
  t.equal((await g.call('alice', 'GET', '/conversations/c2c_bob/messages?count=')).statusCode, 400)
})
