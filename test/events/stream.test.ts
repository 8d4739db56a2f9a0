import t from 'tap'
import { once } from 'node:events'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { build, text, type TestApp } from '../helper.js'
import { stream } from '../fixtures/sse.js'
import { rawConnect, requestHead, within } from '../fixtures/raw-http.js'
import { signUserSig } from '../../src/auth/usersig.js'

const listen = async (g: TestApp) => `${await g.app.listen({ port: 0, host: '127.0.0.1' })}/events`
type Msg = Record<string, unknown>

t.test('when alice sends bob a message, revokes it and bob reads, then both streams hear it, each from its own side, with one event id', async t => {
  const g = await build(t)
  const url = await listen(g)
  const a = stream(t, url, g.as('alice'))
  const b = stream(t, url, g.as('bob'))
  await Promise.all([a.opened, b.opened])
  const sent: Msg = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('hello bob'))).json()
  const [toA] = await a.wait(1)
  const [toB] = await b.wait(1)
  t.equal(toA!.type, 'message')
  t.equal(toA!.id, toB!.id, 'one change, one event id')
  t.equal(toA!.data.event_id, toA!.id)
  t.match(toA!.data, { event_type: 'message', event_user: 'alice', event_data: { message_conv_id: 'bob', message_is_from_self: true, message_msg_id: sent.message_msg_id } })
  t.match(toB!.data, { event_user: 'bob', event_data: { message_conv_id: 'alice', message_is_from_self: false, message_is_read: false, message_elem_array: [{ text_elem_content: 'hello bob' }] } })
  t.type(toA!.data.event_time, 'number')

  await g.call('bob', 'POST', '/conversations/c2c_alice/read', {})
  const [, receipt] = await a.wait(2)
  t.match(receipt!.data, {
    event_type: 'read_receipt',
    event_user: 'alice',
    event_data: { msg_receipt_conv_id: 'bob', msg_receipt_conv_type: 1, msg_receipt_msg_id: sent.message_msg_id, msg_receipt_time_stamp: sent.message_server_time, msg_receipt_is_peer_read: true },
  })
  t.ok(Number(receipt!.id) > Number(toA!.id), 'ids increase')

  await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', sent)
  const [, revoked] = await b.wait(2)
  t.match(revoked!.data, { event_type: 'revoke', event_user: 'bob', event_data: { message_status: 6, message_elem_array: [], message_revoker_user_id: 'alice' } })
  t.equal(b.events.filter(e => e.type === 'read_receipt').length, 0, 'the reader does not hear its own receipt')

  await g.call('alice', 'POST', '/conversations/c2c_bob/messages/import', [text('imported')])
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages/save', text('saved'))
  await g.call('alice', 'DELETE', '/conversations/c2c_bob/messages')
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('after'))
  const events = await a.wait(4)
  t.same(events.map(e => e.type), ['message', 'read_receipt', 'revoke', 'message'], 'import, save and delete make no events')
})

t.test('when a client acts the moment its stream opens, then the stream hears it (the starting point is fixed before the head goes)', async t => {
  const g = await build(t)
  const url = await listen(g)
  // Widen the window the race needed: the live point is read only once a change commits
  // or 300 ms pass. A head sent before that read lets the client's send land before it.
  const events = g.app.store.events
  const settle = events.settle.bind(events)
  events.settle = async () => {
    const before = (await events.bounds()).newest
    for (let i = 0; i < 30 && (await events.bounds()).newest === before; i++) await sleep(10)
    return settle()
  }
  const b = stream(t, url, g.as('bob'))
  await b.opened
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('right away'))
  const [got] = await b.wait(1)
  t.equal((got!.data.event_data.message_elem_array as Msg[])[0]!.text_elem_content, 'right away')
})

t.test('when the log cannot be read as a stream starts, then an error answer, not an empty stream', async t => {
  const g = await build(t)
  const url = await listen(g)
  const events = g.app.store.events
  events.settle = async () => { throw new Error('the log is away') }
  const res = await fetch(url, { headers: g.as('bob') })
  t.equal(res.status, 500)
  t.match(await res.json(), { code: Number, desc: String })
})

t.test('when starts fail on a kept-alive connection, then each leaves at once: no slot stays taken until the connection closes', async t => {
  const g = await build(t)
  const url = await listen(g)
  const events = g.app.store.events
  const settle = events.settle.bind(events)
  events.settle = async () => { throw new Error('the log is away') }
  // fetch keeps its connection alive between requests.
  for (let i = 0; i < 12; i++) t.equal((await fetch(url, { headers: g.as('bob') })).status, 500)
  events.settle = settle
  const b = stream(t, url, g.as('bob'))
  await b.opened
  t.pass('the 13th start opens (10 streams per identity)')
})

t.test('when a stream resumes with Last-Event-ID, then it gets every event it missed, once, then live', async t => {
  const g = await build(t)
  const url = await listen(g)
  const first = stream(t, url, g.as('bob'))
  await first.opened
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('one'))
  const [one] = await first.wait(1)
  first.close()
  for (const s of ['two', 'three', 'four']) await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(s))
  await g.call('carol', 'POST', '/conversations/c2c_dave/messages', text('not bob\'s'))
  const again = stream(t, url, g.as('bob'), one!.id)
  const missed = await again.wait(3)
  t.same(missed.map(e => (e.data.event_data.message_elem_array as Msg[])[0]!.text_elem_content), ['two', 'three', 'four'])
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('five'))
  const all = await again.wait(4)
  t.equal((all[3]!.data.event_data.message_elem_array as Msg[])[0]!.text_elem_content, 'five')
  await sleep(200)
  t.equal(again.events.length, 4, 'nothing twice')
  const viaQuery = stream(t, `${url}?after=${one!.id}`, g.as('bob'))
  t.same((await viaQuery.wait(4)).map(e => e.id), all.map(e => e.id), '?after= resumes the same way')
})

t.test('when a stream resumes from an id the gateway never gave or from before the oldest kept, then reset first, then the oldest kept on', async t => {
  const g = await build(t)
  const url = await listen(g)
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('one'))
  for (const id of ['999999', 'not-a-number']) {
    const s = stream(t, url, g.as('bob'), id)
    const [reset, first] = await s.wait(2)
    t.equal(reset!.type, 'reset', id)
    t.equal(reset!.id, '', 'no id line')
    t.same(reset!.data.event_data, {})
    t.equal(reset!.data.event_type, 'reset')
    t.equal(first!.type, 'message')
    s.close()
  }
})

t.test('when a group changes, then its members hear it while they are members, the kicked its kick, the app stream everything once', async t => {
  const g = await build(t)
  const url = await listen(g)
  await g.call('owner', 'POST', '/groups', { group_id: 'g1', group_member_array: ['m1'] })
  const m1 = stream(t, url, g.as('m1'))
  const m2 = stream(t, url, g.as('m2'))
  const app = stream(t, url, g.as(g.config.adminIdentifier))
  await Promise.all([m1.opened, m2.opened, app.opened])
  await g.call('owner', 'POST', '/conversations/group_g1/messages', text('before m2'))
  await g.call('owner', 'PUT', '/groups/g1/members/m2')
  await g.call('m2', 'POST', '/conversations/group_g1/messages', text('m2 here'))
  await g.call('owner', 'DELETE', '/groups/g1/members/m1')
  await g.call('owner', 'POST', '/conversations/group_g1/messages', text('after m1 left'))
  const tipOf = (e: { data: { event_data: Msg } }) => {
    const elem = (e.data.event_data.message_elem_array as Msg[])[0]!
    return elem.elem_type === 5 ? `tip ${String(elem.group_tips_elem_tip_type)}` : String(elem.text_elem_content)
  }
  t.same((await m1.wait(4)).map(tipOf), ['before m2', 'tip 1', 'm2 here', 'tip 3'], 'm1 up to its kick')
  t.same((await m2.wait(4)).map(tipOf), ['tip 1', 'm2 here', 'tip 3', 'after m1 left'], 'm2 from its invite')
  const all = await app.wait(5)
  t.same(all.map(tipOf), ['before m2', 'tip 1', 'm2 here', 'tip 3', 'after m1 left'], 'the app stream: each once')
  t.same(all.map(e => e.data.event_user), ['owner', 'owner', 'm2', 'owner', 'owner'], 'as the sender sees it')
  await sleep(200)
  t.equal(m1.events.length, 4)
})

t.test('when a user joins a group while messages pour in and no app stream is open, then it hears live exactly what a replay gives it', async t => {
  // The hub reads messages only for the events some stream here hears; a group whose members
  // change within one page of the log must count as heard (its members are known as of the
  // page's start). Joins and sends in one request burst share commits, hence pages.
  const g = await build(t)
  const url = await listen(g)
  await g.call('owner', 'POST', '/groups', { group_id: 'g2', group_member_array: ['m1'] })
  const live = stream(t, url, g.as('late'))
  const other = stream(t, url, g.as('bystander'))
  await Promise.all([live.opened, other.opened])
  const sends = (n: number) => Array.from({ length: n }, (_, i) => g.call('owner', 'POST', '/conversations/group_g2/messages', text(`m${i}`)))
  await Promise.all([...sends(5), g.call('owner', 'PUT', '/groups/g2/members/late'), ...sends(5)])
  await Promise.all([g.call('owner', 'POST', '/conversations/group_g2/messages', text('after')), g.call('owner', 'POST', '/conversations/c2c_bystander/messages', text('to the bystander'))])
  await other.wait(1)
  const replay = stream(t, url, g.as('late'), '0')
  await replay.wait(2)
  await sleep(300)
  t.ok(live.events.length >= 2, 'the tip and the messages after it')
  t.same(live.events.map(e => [e.id, e.type]), replay.events.map(e => [e.id, e.type]), 'live and replayed: the same events')
  t.same(other.events.map(e => e.type), ['message'], 'a stream of no member hears none of the group')
})

t.test('when a stream resumes while the hub is reading a page it had no listener for, then it still gets that page live', async t => {
  // The hub reads messages only for the events some stream hears; a stream that attaches
  // during that read replays only up to the page's start, so the page must be read again
  // for it. The read is held open here to make the race certain.
  const g = await build(t)
  const url = await listen(g)
  const other = stream(t, url, g.as('bystander'))
  await other.opened
  const messages = g.app.store.messages
  const sharedMany = messages.sharedMany.bind(messages)
  let entered: () => void = () => {}
  const reading = new Promise<void>(resolve => { entered = resolve })
  messages.sharedMany = async (refs) => {
    entered()
    await sleep(300)
    return sharedMany(refs)
  }
  t.teardown(() => { messages.sharedMany = sharedMany })
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('while reading'))
  await reading
  const bob = stream(t, url, g.as('bob'), '0')
  const [got] = await bob.wait(1)
  await sleep(300)
  t.equal(bob.events.length, 1, 'once')
  t.match(got!.data.event_data, { message_elem_array: [{ text_elem_content: 'while reading' }] })
})

t.test('when an online message is sent, then only the streams connected now get it, with the last id they have, and it is never replayed', async t => {
  const g = await build(t)
  const url = await listen(g)
  const b = stream(t, url, g.as('bob'))
  await b.opened
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('stored'))
  const [stored] = await b.wait(1)
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('typing…', { message_is_online_msg: true }))
  const [, online] = await b.wait(2)
  t.equal(online!.id, stored!.id, 'the id of the last event it has: never a resume point that skips one')
  t.match(online!.data.event_data, { message_is_online_msg: true, message_seq: 0 })
  const later = stream(t, url, g.as('bob'), '0')
  const replayed = await later.wait(1)
  await sleep(200)
  t.same(later.events.map(e => e.type), ['message'], 'not replayed')
  t.equal(replayed[0]!.id, stored!.id)
})

t.test('when an identity has 10 streams, then the 11th is 429 9507 with Retry-After, until one closes', async t => {
  const g = await build(t)
  const url = await listen(g)
  const open = Array.from({ length: 10 }, () => stream(t, url, g.as('bob')))
  await Promise.all(open.map(s => s.opened))
  const shown = (await g.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(shown, /\ntimgate_event_streams 10\n/, '/metrics counts the open streams')
  t.notMatch(shown, /timgate_event_stream_process/, 'no stream process, no series of it')
  const refused = await fetch(url, { headers: g.as('bob') })
  t.equal(refused.status, 429)
  t.ok(refused.headers.get('retry-after'))
  t.match(await refused.json(), { code: 9507 })
  const onBehalf = await fetch(url, { headers: g.as(g.config.adminIdentifier, 'bob') })
  t.equal(onBehalf.status, 429, 'the admin acting for bob counts against bob')
  open[0]!.close()
  let status = 429
  for (let i = 0; i < 100 && status === 429; i++) {
    const res = await fetch(url, { headers: g.as('bob') })
    status = res.status
    await res.body?.cancel()
    if (status === 429) await sleep(20)
  }
  t.equal(status, 200, 'a closed stream frees its slot')
})

t.test('when a client leaves while its stream\'s start is failing, then its slot is given back once, not twice', async t => {
  const g = await build(t)
  const url = new URL(await listen(g))
  const first = stream(t, url.toString(), g.as('bob'))
  await first.opened
  const events = g.app.store.events
  const settle = events.settle.bind(events)
  let leave: () => void = () => {}
  const left = new Promise<void>(resolve => { leave = resolve })
  events.settle = async () => {
    await left
    await sleep(50)
    throw new Error('the log is away')
  }
  const r = await rawConnect(t, Number(url.port))
  r.socket.write(requestHead('GET', '/events', { authorization: `Bearer ${g.sig('bob')}` }))
  await sleep(100)
  r.socket.destroy()
  leave()
  await sleep(200)
  events.settle = settle
  // bob has one stream: nine more make ten, and the next is refused.
  const more = Array.from({ length: 9 }, () => stream(t, url.toString(), g.as('bob')))
  await Promise.all(more.map(s => s.opened))
  t.equal((await fetch(url, { headers: g.as('bob') })).status, 429)
})

t.test('when a stream\'s UserSig expires, then the stream ends', async t => {
  let clock = Math.floor(Date.now() / 1000)
  const g = await build(t, {}, { now: () => clock })
  const url = await listen(g)
  const sig = signUserSig(g.config.sdkAppId, g.config.secretKey, 'bob', 60, clock)
  const res = await fetch(url, { headers: { authorization: `Bearer ${sig}` } })
  t.equal(res.status, 200)
  const reader = res.body!.getReader()
  let done = false
  const ended = (async () => {
    while (!(await reader.read()).done);
    done = true
  })()
  await sleep(1500)
  t.equal(done, false, 'open while the UserSig is valid (a tick a second has passed)')
  clock += 61
  await within(ended, 10_000, undefined)
  t.equal(done, true, 'ended once the clock passed the expiry')
})

t.test('when a stream opens, then its head says what it is, carries the security headers and its request id, and counts as answered; HEAD gets the head alone', async t => {
  const g = await build(t)
  const url = new URL(await listen(g))
  const r = await rawConnect(t, Number(url.port))
  r.socket.write(requestHead('GET', '/events', { authorization: `Bearer ${g.sig('bob')}`, 'x-request-id': 'stream-1' }))
  const opened = await r.until(res => res.body.includes(': timgate events\n\n'), 10_000)
  t.match(opened, {
    status: 200,
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'x-request-id': 'stream-1',
      connection: 'close',
    },
  })
  t.notOk('content-length' in opened!.headers || 'transfer-encoding' in opened!.headers, 'the body ends with the connection')
  t.ok(!Number.isNaN(Date.parse(opened!.headers.date ?? '')), 'dated')
  const metrics = (await g.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, 'timgate_http_requests_total{method="GET",route="/events",status="200"} 1')

  const head = await g.app.inject({ method: 'HEAD', url: '/events', headers: g.as('bob') })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-type'], 'text/event-stream; charset=utf-8')
  t.equal(head.body, '')
})

t.test('when a stream is open, then Fastify\'s reply and request for it are garbage: an idle stream keeps the connection, not the request\'s objects', async t => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const g = await build(t)
  const replies: Array<WeakRef<object>> = []
  g.app.addHook('onRequest', async (request, reply) => { if (request.url.startsWith('/events')) replies.push(new WeakRef(reply), new WeakRef(request)) })
  const url = await listen(g)
  const b = stream(t, url, g.as('bob'))
  await b.opened
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('still live'))
  await b.wait(1)
  t.equal(replies.length, 2)
  // A WeakRef's target stays until the job that made it has ended: collected over a few turns.
  for (let i = 0; i < 10 && replies.some(r => r.deref() !== undefined); i++) {
    await sleep(10)
    gc()
  }
  t.same(replies.map(r => r.deref()), [undefined, undefined], 'the reply and request were collected while their stream stays open')
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('after the collection'))
  t.match((await b.wait(2))[1]!.data.event_data, { message_elem_array: [{ text_elem_content: 'after the collection' }] })
})

t.test('when a request or stray bytes follow a stream on its connection, then nothing is answered inside the stream and the gateway stays up', async t => {
  const g = await build(t)
  const url = new URL(await listen(g))
  const auth = { authorization: `Bearer ${g.sig('bob')}` }
  const r = await rawConnect(t, Number(url.port))
  // A second request pipelined behind the stream, and another stream: both wait, unanswered.
  r.socket.write(requestHead('GET', '/events', auth) + requestHead('GET', '/health', {}) + requestHead('GET', '/events', auth))
  t.ok(await r.until(res => res.body.includes(': timgate events'), 10_000), 'the stream opened')
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('to the first stream'))
  const got = await r.until(res => res.body.includes('to the first stream'), 10_000)
  t.notOk(got!.body.toString('latin1').includes('HTTP/1.1'), 'no other answer inside the stream')
  t.equal((await fetch(`${url.origin}/health`)).status, 200, 'the gateway is up')

  // Bytes that are no request: the connection closes, with no error answer written into the stream.
  const junk = await rawConnect(t, Number(url.port))
  junk.socket.write(requestHead('GET', '/events', auth))
  t.ok(await junk.until(res => res.body.includes(': timgate events'), 10_000))
  junk.socket.write('this is not HTTP\r\n\r\n')
  t.ok(await junk.closedWithin(10_000), 'closed')
  t.notOk(junk.response().body.toString('latin1').includes('HTTP/1.1'), 'no error answer inside the stream')
  t.equal((await fetch(`${url.origin}/health`)).status, 200, 'the gateway is up')
})

t.test('when the app closes, then open streams end and the close does not wait for them', async t => {
  const g = await build(t)
  const url = await listen(g)
  const b = stream(t, url, g.as('bob'))
  await b.opened
  await g.app.close()
  t.pass('closed')
})

t.test('when the app closes, then a stream whose reader neither reads nor closes its side is dropped, not waited for', async t => {
  const g = await build(t)
  const url = new URL(await listen(g))
  const socket = connect({ port: Number(url.port), host: '127.0.0.1', allowHalfOpen: true })
  t.teardown(() => { socket.destroy() })
  socket.on('error', () => {})
  await once(socket, 'connect')
  socket.write(requestHead('GET', '/events', { authorization: `Bearer ${g.sig('bob')}` }))
  await once(socket, 'data')
  socket.pause()
  t.equal(await within(g.app.close().then(() => 'closed'), 8000, 'still waiting'), 'closed')
})

t.test('when a reader lets its stream pile up, then it is cut, not buffered without bound, and resumes with all it missed', async t => {
  const g = await build(t, { TIM_RATE_LIMIT: '0' })
  const url = new URL(await listen(g))
  const r = await rawConnect(t, Number(url.port))
  r.socket.pause()
  r.socket.write(requestHead('GET', '/events', { authorization: `Bearer ${g.sig('bob')}` }))
  await sleep(300)
  // Each batch is 500 message events of 12 KB for the sender's stream: 12 MB in all.
  const big = text('x'.repeat(12_000))
  const recipients = Array.from({ length: 500 }, (_, i) => `r${i}`)
  for (let i = 0; i < 2; i++) t.equal((await g.call('bob', 'POST', '/messages/batch', { msg_batch_send_param_identifier_array: recipients, msg_batch_send_param_msg: big })).statusCode, 200)
  await sleep(500)
  r.socket.resume()
  t.ok(await r.closedWithin(30_000), 'the gateway closed the stream')
  const received = r.response().body.toString('latin1')
  const ids = [...received.matchAll(/^id: (\d+)$/gm)].map(m => m[1]!)
  t.ok(ids.length < 1000, `cut before the end (${ids.length} of 1000 events arrived)`)
  const again = stream(t, url.toString(), g.as('bob'), ids.at(-1) ?? '0')
  const rest = await again.wait(1000 - ids.length - 1, 60_000)
  t.ok(rest.length >= 1000 - ids.length - 1, 'the rest, on resuming')
})

t.test('when many events for one stream commit together, then they come in one write, in order, each once', async t => {
  const g = await build(t)
  const url = await listen(g)
  const b = stream(t, url, g.as('bob'))
  await b.opened
  // Sent at once: group commit puts them in few transactions, and the hub reads them as one page.
  const writes: number[] = []
  const socket = [...g.app.hub.streams()][0]!.body
  const write = socket.write.bind(socket)
  const writev = (socket as unknown as { _writev: (...a: unknown[]) => unknown })._writev.bind(socket)
  ;(socket as unknown as { _writev: (chunks: unknown[], cb: unknown) => unknown })._writev = (chunks, cb) => { writes.push(chunks.length); return writev(chunks, cb) }
  socket.write = ((...a: Parameters<typeof write>) => { writes.push(1); return write(...a) }) as typeof socket.write
  await Promise.all(Array.from({ length: 20 }, (_, i) => g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`m${i}`))))
  const events = await b.wait(20)
  await sleep(200)
  t.equal(b.events.length, 20, 'each once')
  t.ok(events.every((e, i) => i === 0 || Number(e.id) > Number(events[i - 1]!.id)), 'in order')
  t.same(new Set(events.map(e => (e.data.event_data.message_elem_array as Msg[])[0]!.text_elem_content)).size, 20)
  t.ok(writes.some(n => n > 1), `several frames went in one write: ${JSON.stringify(writes)}`)
})
