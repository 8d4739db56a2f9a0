import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, text, type TestApp } from './helper.js'
import { rawConnect, requestHead } from './fixtures/raw-http.js'

/** The app listening on an ephemeral port; the port. */
const listenPort = async (g: TestApp) => Number(new URL(await g.app.listen({ port: 0, host: '127.0.0.1' })).port)

const json = (body: Buffer) => JSON.parse(body.toString('utf8')) as Record<string, unknown>

t.test('when a client sends the headers of a JSON request and stalls mid-body, then 408 {code, desc} after TIM_BODY_TIMEOUT_MS, the connection is closed and nothing is written', async t => {
  const g = await build(t, { TIM_BODY_TIMEOUT_MS: '300' })
  const r = await rawConnect(t, await listenPort(g))
  const body = JSON.stringify(text('never finished'))
  r.socket.write(requestHead('POST', '/conversations/c2c_bob/messages', { authorization: `Bearer ${g.sig('alice')}`, 'content-type': 'application/json', 'content-length': body.length }))
  r.socket.write(body.slice(0, 20))
  t.ok(await r.closedWithin(30_000), 'the server closes the connection')
  const res = r.response()
  t.equal(res.status, 408)
  t.equal(res.headers.connection, 'close')
  t.match(json(res.body), { code: 6012, desc: /did not arrive within 300 ms \(TIM_BODY_TIMEOUT_MS\)/ })
  t.same((await g.call('alice', 'GET', '/conversations/c2c_bob/messages')).json(), [], 'nothing was stored')
})

t.test('when a JSON body arrives in pieces within TIM_BODY_TIMEOUT_MS, then it is read whole', async t => {
  const g = await build(t, { TIM_BODY_TIMEOUT_MS: '10000' })
  const r = await rawConnect(t, await listenPort(g))
  const content = 'in pieces: ünïcödé split across writes'
  const body = Buffer.from(JSON.stringify(text(content)))
  r.socket.write(requestHead('POST', '/conversations/c2c_bob/messages', { authorization: `Bearer ${g.sig('alice')}`, 'content-type': 'application/json', 'content-length': body.length }))
  for (const [start, end] of [[0, 25], [25, 43], [43, body.length]]) {
    await sleep(100)
    r.socket.write(body.subarray(start, end))
  }
  const res = await r.until(res => res.complete, 30_000)
  t.equal(res?.status, 200)
  t.match(json(res?.body ?? Buffer.from('{}')), { message_elem_array: [{ text_elem_content: content }] })
  t.not(res?.headers.connection, 'close', 'the connection stays open')
})

t.test('when an upload stalls for longer than TIM_BODY_TIMEOUT_MS, then it is not cut off: uploads have the 5-minute request timeout', async t => {
  const g = await build(t, { TIM_BODY_TIMEOUT_MS: '200' })
  const r = await rawConnect(t, await listenPort(g))
  const bytes = Buffer.alloc(10_000, 7)
  r.socket.write(requestHead('POST', '/media', { authorization: `Bearer ${g.sig('alice')}`, 'content-type': 'application/octet-stream', 'content-length': bytes.length }))
  r.socket.write(bytes.subarray(0, 5000))
  t.notOk(await r.closedWithin(1500), 'still open well past the JSON body timeout')
  t.equal(r.response().status, 0, 'and not answered')
  r.socket.write(bytes.subarray(5000))
  const res = await r.until(res => res.complete, 30_000)
  t.equal(res?.status, 201)
  t.match(json(res?.body ?? Buffer.from('{}')), { size: 10_000 })
})

t.test('when the headers do not arrive within TIM_BODY_TIMEOUT_MS, then 408 {code, desc} and the connection is closed', async t => {
  const g = await build(t, { TIM_BODY_TIMEOUT_MS: '200' })
  const r = await rawConnect(t, await listenPort(g))
  r.socket.write('GET /conversations/c2c_bob/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  t.ok(await r.closedWithin(30_000), 'the server closes the connection')
  t.equal(r.response().status, 408)
  t.match(json(r.response().body), { code: 6012, desc: /request timeout/ })
})

t.test('when a request is not HTTP or its headers are too large, then 400 or 431 {code, desc} and the connection is closed', async t => {
  const g = await build(t)
  const port = await listenPort(g)
  const garbage = await rawConnect(t, port)
  garbage.socket.write('HELLO THERE\r\n\r\n')
  t.ok(await garbage.closedWithin(30_000))
  t.equal(garbage.response().status, 400)
  t.match(json(garbage.response().body), { code: 6017, desc: /malformed HTTP request/ })

  const big = await rawConnect(t, port)
  big.socket.write(requestHead('GET', '/health', { 'x-big': 'a'.repeat(20_000) }))
  t.ok(await big.closedWithin(30_000))
  t.equal(big.response().status, 431)
  t.match(json(big.response().body), { code: 6017, desc: /headers are too large/ })
})
