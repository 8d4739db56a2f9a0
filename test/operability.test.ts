import t from 'tap'
import { Writable } from 'node:stream'
import { build, text } from './helper.js'

t.test('when any request is answered, then it carries x-request-id, echoing a valid incoming one', async t => {
  const g = await build(t)
  const answers = [
    await g.app.inject({ method: 'GET', url: '/health' }),
    await g.app.inject({ method: 'GET', url: '/nope' }),
    await g.app.inject({ method: 'GET', url: '/conversations/c2c_bob/messages' }),
    await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('x')),
    await g.call('alice', 'POST', '/conversations/c2c_bob/messages', '{', { 'content-type': 'application/json' }),
  ]
  for (const res of answers) t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/, `${res.statusCode}`)
  t.equal(new Set(answers.map(r => r.headers['x-request-id'])).size, answers.length, 'a new id each')
  const echoed = await g.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'trace-123' } })
  t.equal(echoed.headers['x-request-id'], 'trace-123')
  const hostile = await g.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id\twith junk' } })
  t.not(hostile.headers['x-request-id'], 'bad id\twith junk', 'an unusable id is replaced')
})

t.test('when GET /health is called, then it says ok without a UserSig', async t => {
  const g = await build(t)
  const res = await g.app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok', store: g.config.databaseUrl === undefined ? 'sqlite' : 'postgres' })
})

t.test('when traffic has flowed, then /metrics counts requests by route and status, latency and stored messages', async t => {
  const g = await build(t)
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('1'))
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('2'))
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', { message_elem_array: [] })
  await g.app.inject({ method: 'GET', url: '/conversations/c2c_bob/messages' })
  const res = await g.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain/)
  const body = res.body
  t.match(body, 'timgate_http_requests_total{method="POST",route="/conversations/:conversationID/messages",status="200"} 2')
  t.match(body, 'timgate_http_requests_total{method="POST",route="/conversations/:conversationID/messages",status="400"} 1')
  t.match(body, 'timgate_http_requests_total{method="GET",route="/conversations/:conversationID/messages",status="401"} 1')
  t.match(body, /timgate_http_request_duration_seconds_bucket\{method="POST",route="\/conversations\/:conversationID\/messages",le="\+Inf"\} 3/)
  t.match(body, /timgate_http_request_duration_seconds_count\{method="POST",route="\/conversations\/:conversationID\/messages"\} 3/)
  t.match(body, /\ntimgate_messages_stored_total 2\n/)
  t.match(body, /# TYPE timgate_http_request_duration_seconds histogram/)
})

t.test('when requests are logged, then lines are JSON with the request id and never contain a UserSig or the secret', async t => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, cb) { lines.push(...String(chunk).split('\n').filter(l => l !== '')); cb() } })
  const g = await build(t, { LOG_LEVEL: 'trace' }, {})
  await g.app.close()
  const logged = await build(t, { LOG_LEVEL: 'trace', TIM_DATA_DIR: g.config.dataDir }, { logStream: sink })
  const sig = logged.sig('alice')
  await logged.app.inject({ method: 'POST', url: '/conversations/c2c_bob/messages', headers: { authorization: `Bearer ${sig}`, 'x-request-id': 'log-probe' }, payload: text('x') })
  await logged.app.inject({ method: 'POST', url: '/conversations/c2c_bob/messages', headers: { authorization: `Bearer ${sig}tampered` }, payload: text('x') })
  await logged.app.inject({ method: 'POST', url: '/conversations/c2c_bob/messages', headers: { authorization: 'Bearer ' + sig, 'content-type': 'application/json' }, payload: '{' })
  t.ok(lines.length > 0)
  const parsed = lines.map(l => JSON.parse(l) as Record<string, unknown>)
  t.ok(parsed.some(l => l.reqId === 'log-probe'), 'request lines carry the request id')
  const incoming = parsed.find(l => l.reqId === 'log-probe' && l.req !== undefined) as { req: Record<string, unknown> } | undefined
  t.same(incoming?.req, { method: 'POST', url: '/conversations/c2c_bob/messages', remoteAddress: '127.0.0.1', userAgent: 'lightMyRequest' },
    'a request line has the method, URL, remote address and user agent: never the headers')
  const all = lines.join('\n')
  t.notMatch(all, sig, 'no UserSig in the logs')
  t.notMatch(all, logged.config.secretKey, 'no secret key in the logs')
})

t.test('when any response is sent, then it carries the security headers', async t => {
  const g = await build(t)
  for (const res of [
    await g.app.inject({ method: 'GET', url: '/health' }),
    await g.app.inject({ method: 'GET', url: '/nope' }),
    await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('x')),
    await g.call('alice', 'POST', '/conversations/c2c_bob/messages', '{', { 'content-type': 'application/json' }),
  ]) {
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.equal(res.headers['referrer-policy'], 'no-referrer')
    t.equal(res.headers['cache-control'], 'no-store')
  }
})

t.test('when a path matches no route, then 404 {code, desc} with or without a UserSig; / points to the docs', async t => {
  const g = await build(t)
  for (const [method, url] of [['GET', '/healthz'], ['POST', '/health'], ['GET', '/nowhere/at/all']] as const) {
    const res = await g.app.inject({ method, url })
    t.equal(res.statusCode, 404, `${method} ${url} without a UserSig`)
    t.match(res.json(), { code: 6017, desc: /no endpoint/ })
  }
  const browser = await g.app.inject({ method: 'GET', url: '/', headers: { accept: 'text/html,application/xhtml+xml' } })
  t.equal(browser.statusCode, 302)
  t.equal(browser.headers.location, '/docs')
  t.same((await g.app.inject({ method: 'GET', url: '/' })).json(), { name: 'timgate', docs: '/docs', openapi: '/openapi.json', health: '/health' })
})

t.test('when a request is refused, then its log line says who asked and the TIM code and desc it got', async t => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, cb) { lines.push(...String(chunk).split('\n').filter(l => l !== '')); cb() } })
  const g = await build(t, { LOG_LEVEL: 'info' }, { logStream: sink })
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', { message_elem_array: [] })
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('fine'))
  const done = lines.map(l => JSON.parse(l) as { msg: string, res?: Record<string, unknown> }).filter(r => r.msg === 'request completed')
  t.match(done[0]?.res, { statusCode: 400, caller: 'alice', code: 6017, desc: /message_elem_array/ })
  t.match(done[1]?.res, { statusCode: 200, caller: 'alice' })
  t.equal(done[1]?.res?.code, undefined, 'no code on a success')
})
