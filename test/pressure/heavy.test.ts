import t from 'tap'
import { build, text, type TestApp } from '../helper.js'
import { rawConnect, requestHead, type RawConnection } from '../fixtures/raw-http.js'

const listenPort = async (g: TestApp) => Number(new URL(await g.app.listen({ port: 0, host: '127.0.0.1' })).port)
const IMPORT = '/conversations/c2c_bob/messages/import'

/** A heavy request whose headers have arrived and whose 12 MB body has not: it holds its slot. */
async function stalledImport (t: Parameters<typeof build>[0], g: TestApp, port: number, user: string): Promise<RawConnection> {
  const r = await rawConnect(t, port)
  r.socket.write(requestHead('POST', IMPORT, { authorization: `Bearer ${g.sig(user)}`, 'content-type': 'application/json', 'content-length': 12_000_000 }))
  r.socket.write('[')
  return r
}

/** Only the headers of a heavy request: answered (or not) before any body byte is sent. */
async function headersOnly (t: Parameters<typeof build>[0], port: number, g: TestApp, user: string, path = IMPORT) {
  const r = await rawConnect(t, port)
  r.socket.write(requestHead('POST', path, { authorization: `Bearer ${g.sig(user)}`, 'content-type': 'application/json', 'content-length': 12_000_000 }))
  return r.until(res => res.complete, 30_000)
}

t.test('when an identity has a heavy request in progress, then its next one is refused 429 9506 on its headers, before its body', async t => {
  const g = await build(t, { TIM_BODY_TIMEOUT_MS: '60000' })
  const port = await listenPort(g)
  await stalledImport(t, g, port, 'alice')
  // The same identity, import and batch alike: answered with no body byte sent.
  for (const path of [IMPORT, '/messages/batch']) {
    const res = await headersOnly(t, port, g, 'alice', path)
    t.equal(res?.status, 429, path)
    t.equal(res?.headers['retry-after'], '1')
    t.match(JSON.parse(res?.body.toString() ?? '{}'), { code: 9506, desc: /one import or batch send at a time per identity/ })
  }
  // Light requests of the same identity and others go on.
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('light'))).statusCode, 200)
  t.equal((await g.call('carol', 'GET', '/conversations/c2c_bob/messages')).statusCode, 200)
  // Another identity may take the second slot (TIM_HEAVY_CONCURRENCY=2)…
  const other = await g.call('carol', 'POST', '/conversations/c2c_dave/messages/import', [text('imported')])
  t.equal(other.statusCode, 200, other.body)
})

t.test('when TIM_HEAVY_CONCURRENCY heavy requests are in progress, then any identity\'s next one is refused, and admitted again once one ends', async t => {
  const g = await build(t, { TIM_BODY_TIMEOUT_MS: '60000', TIM_HEAVY_CONCURRENCY: '1' })
  const port = await listenPort(g)
  const held = await stalledImport(t, g, port, 'alice')
  const refused = await headersOnly(t, port, g, 'carol')
  t.equal(refused?.status, 429)
  t.match(JSON.parse(refused?.body.toString() ?? '{}'), { code: 9506, desc: /busy with other imports and batch sends/ })
  t.equal((await g.call('administrator', 'POST', '/messages/batch', { msg_batch_send_param_identifier_array: ['x'], msg_batch_send_param_msg: text('b') })).statusCode, 429, 'the admin too')
  // The client of the held request goes away: its slot is free at once.
  held.socket.destroy()
  t.ok(await held.closedWithin(10_000))
  let status = 0
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await g.call('carol', 'POST', '/conversations/c2c_dave/messages/import', [text('now')])).statusCode
    if (status !== 200) await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.equal(status, 200, 'admitted again')
})

t.test('when heavy requests finish, fail or are refused by validation, then their slots are free', async t => {
  const g = await build(t, { TIM_HEAVY_CONCURRENCY: '1' })
  for (let i = 0; i < 3; i++) {
    t.equal((await g.call('alice', 'POST', IMPORT, [text(`m${i}`)])).statusCode, 200)
    t.equal((await g.call('alice', 'POST', IMPORT, [{ message_elem_array: [] }])).statusCode, 400)
    t.equal((await g.call('alice', 'POST', '/messages/batch', { msg_batch_send_param_identifier_array: [], msg_batch_send_param_msg: text('x') })).statusCode, 400)
  }
})


t.test('when four heavy requests are worked on, then the next waits its turn before its body is read and goes on when one ends; one whose client left while waiting takes no turn', async t => {
  const g = await build(t, { TIM_BODY_TIMEOUT_MS: '60000', TIM_HEAVY_CONCURRENCY: '0' })
  const port = await listenPort(g)
  const gauges = async () => (await g.app.inject({ method: 'GET', url: '/metrics' })).body
  /** Waits until /metrics shows `working` and `waiting` heavy requests. */
  const turnsAre = async (working: number, waiting: number): Promise<boolean> => {
    for (let i = 0; i < 500; i++) {
      const text = await gauges()
      if (text.includes(`\ntimgate_heavy_requests_working ${working}\n`) && text.includes(`\ntimgate_heavy_requests_waiting ${waiting}\n`)) return true
      await new Promise(resolve => setTimeout(resolve, 20))
    }
    return false
  }
  // Admission off: every identity's imports admitted, four worked on (their bodies still arriving).
  const held = []
  for (const user of ['u1', 'u2', 'u3', 'u4']) held.push(await stalledImport(t, g, port, user))
  t.ok(await turnsAre(4, 0), 'four worked on')
  // A fifth waits, its body not read; its client leaves while it waits.
  const gone = await stalledImport(t, g, port, 'u5')
  t.ok(await turnsAre(4, 1), 'the fifth waits')
  gone.socket.destroy()
  t.ok(await gone.closedWithin(10_000))
  // A sixth, whole, waits behind it; nothing is answered while the four hold their turns.
  let answered = false
  const sixth = g.call('carol', 'POST', '/conversations/c2c_dave/messages/import', [text('waited')]).finally(() => { answered = true })
  t.ok(await turnsAre(4, 2), 'the sixth waits too')
  t.notOk(answered, 'not answered while it waits')
  // One of the four ends: the turn skips the client that left and goes to the sixth.
  held[0]!.socket.destroy()
  const res = await sixth
  t.equal(res.statusCode, 200, res.body)
  t.ok(await turnsAre(3, 0), 'the three still held; none waits')
  for (const r of held) r.socket.destroy()
  t.ok(await turnsAre(0, 0), 'all turns given back')
})

t.test('when a heavy request waits behind a stream on its connection and the connection dies, then its slot and its turn are given back', async t => {
  const g = await build(t, { TIM_BODY_TIMEOUT_MS: '60000' })
  const port = await listenPort(g)
  const gauges = async () => (await g.app.inject({ method: 'GET', url: '/metrics' })).body
  // An event stream, and an import pipelined behind it: its answer can never be written.
  const r = await rawConnect(t, port)
  const body = JSON.stringify([text('behind a stream')])
  r.socket.write(requestHead('GET', '/events', { authorization: `Bearer ${g.sig('alice')}` }))
  r.socket.write(requestHead('POST', IMPORT, { authorization: `Bearer ${g.sig('alice')}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) + body)
  t.ok(await r.until(res => res.status === 200, 10_000), 'the stream is open')
  r.socket.destroy()
  t.ok(await r.closedWithin(10_000))
  // alice may import again (one heavy request per identity), and no turn is held.
  let status = 0
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await g.call('alice', 'POST', IMPORT, [text('after')])).statusCode
    if (status !== 200) await new Promise(resolve => setTimeout(resolve, 20))
  }
  t.equal(status, 200, 'admitted again')
  t.match(await gauges(), /\ntimgate_heavy_requests_working 0\n/)
})
