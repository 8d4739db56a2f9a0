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

