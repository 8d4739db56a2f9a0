import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect } from 'node:net'
import { build, text, type TestApp } from '../helper.js'
import { stream, type Stream } from '../fixtures/sse.js'
import { alive } from '../fixtures/process.js'

/** TIM_EVENTS_PROCESS: the streams are served by the event stream process, a child of the gateway's. */
const PROCESS = { TIM_EVENTS_PROCESS: 'true' }
/** Listening, once the stream process serves (its start is not part of the app's). */
async function listen (g: TestApp): Promise<string> {
  await g.app.streamProcess!.started()
  if (!g.app.streamProcess!.ready) throw new Error('the stream process did not start')
  return `${await g.app.listen({ port: 0, host: '127.0.0.1' })}/events`
}
type Msg = Record<string, unknown>

async function until (what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await sleep(20)
  }
}

const ended = (s: Stream) => s.source.readyState === s.source.CLOSED
const metrics = async (g: TestApp) => (await g.app.inject({ method: 'GET', url: '/metrics' })).body

t.test('when the stream process serves the streams, then they hear their events from their own side, online messages live, the app stream everything once, and a resume replays', async t => {
  const g = await build(t, PROCESS)
  const url = await listen(g)
  const child = g.app.streamProcess!
  t.ok(child.ready && child.pid !== undefined && child.pid !== process.pid, 'a process of its own serves the streams')
  const head = await fetch(url, { headers: { ...g.as('carol'), 'x-request-id': 'carol-1' } })
  t.equal(head.status, 200)
  t.equal(head.headers.get('content-type'), 'text/event-stream; charset=utf-8')
  t.equal(head.headers.get('x-request-id'), 'carol-1')
  t.equal(head.headers.get('x-content-type-options'), 'nosniff')
  await head.body?.cancel()

  const a = stream(t, url, g.as('alice'))
  const b = stream(t, url, g.as('bob'))
  const app = stream(t, url, g.as(g.config.adminIdentifier))
  await Promise.all([a.opened, b.opened, app.opened])
  t.equal(child.streamsOf('bob'), 1, 'the gateway counts the streams it handed over')
  t.equal(g.app.hub.streamsOf('bob'), 0, 'none is served in the gateway')
  const shown = await metrics(g)
  t.match(shown, /\ntimgate_event_streams 3\n/, '/metrics counts the streams of the stream process')
  t.match(shown, /\ntimgate_event_stream_process_up 1\n/)
  t.match(shown, /\ntimgate_event_stream_process_restarts_total 0\n/)
  const sent: Msg = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('hello bob'))).json()
  const [toA] = await a.wait(1)
  const [toB] = await b.wait(1)
  const [toApp] = await app.wait(1)
  t.equal(toA!.id, toB!.id, 'one change, one event id')
  t.match(toA!.data, { event_type: 'message', event_user: 'alice', event_data: { message_conv_id: 'bob', message_is_from_self: true, message_msg_id: sent.message_msg_id } })
  t.match(toB!.data, { event_user: 'bob', event_data: { message_conv_id: 'alice', message_is_from_self: false, message_elem_array: [{ text_elem_content: 'hello bob' }] } })
  t.match(toApp!.data, { event_user: 'alice', event_data: { message_msg_id: sent.message_msg_id } })

  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('typing…', { message_is_online_msg: true }))
  const [, online] = await b.wait(2)
  t.equal(online!.id, toB!.id, 'an online message carries the last id the stream has')
  t.match(online!.data.event_data, { message_is_online_msg: true, message_seq: 0, message_elem_array: [{ text_elem_content: 'typing…' }] })

  await g.call('bob', 'POST', '/conversations/c2c_alice/read', {})
  const [, , receipt] = await a.wait(3)
  t.match(receipt!.data, { event_type: 'read_receipt', event_data: { msg_receipt_msg_id: sent.message_msg_id, msg_receipt_is_peer_read: true } })

  const resumed = stream(t, url, g.as('bob'), '0')
  const replayed = await resumed.wait(1)
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('live after the replay'))
  const [, live] = await resumed.wait(2)
  t.equal(replayed[0]!.id, toB!.id, 'the stored message replayed, not the online one')
  t.match(live!.data.event_data, { message_elem_array: [{ text_elem_content: 'live after the replay' }] })
  await sleep(200)
  t.equal(resumed.events.length, 2, 'nothing twice')
  t.same(app.events.map(e => e.type), ['message', 'message', 'read_receipt', 'message'], 'the app stream: each event once, the online message too')
})

t.test('when a group changes under the stream process, then its members hear it while they are members', async t => {
  const g = await build(t, PROCESS)
  const url = await listen(g)
  await g.call('alice', 'POST', '/groups', { group_id: 'crew', group_member_array: ['bob', 'carol'] })
  const b = stream(t, url, g.as('bob'))
  const c = stream(t, url, g.as('carol'))
  await Promise.all([b.opened, c.opened])
  await g.call('alice', 'POST', '/conversations/group_crew/messages', text('to all'))
  await Promise.all([b.wait(1), c.wait(1)])
  await g.call('alice', 'DELETE', '/groups/crew/members/carol')
  await g.call('alice', 'POST', '/conversations/group_crew/messages', text('after the kick'))
  const texts = (s: Stream) => s.events.flatMap(e => (e.data.event_data.message_elem_array as Msg[] | undefined ?? []).flatMap(el => typeof el.text_elem_content === 'string' ? [el.text_elem_content] : []))
  await until('bob hears the message after the kick', () => texts(b).length === 2)
  await sleep(200)
  t.same(texts(b), ['to all', 'after the kick'])
  t.same(texts(c), ['to all'], 'the kicked member does not hear what came after')
})

t.test('when an identity has 10 streams in the stream process, then the 11th is 429 9507, until one closes', async t => {
  const g = await build(t, PROCESS)
  const url = await listen(g)
  const open = Array.from({ length: 10 }, () => stream(t, url, g.as('bob')))
  await Promise.all(open.map(s => s.opened))
  const refused = await fetch(url, { headers: g.as('bob') })
  t.equal(refused.status, 429)
  t.match(await refused.json(), { code: 9507 })
  open[0]!.close()
  await until('the stream process tells the gateway a stream left', () => g.app.streamProcess!.streamsOf('bob') === 9)
  const again = await fetch(url, { headers: g.as('bob') })
  t.equal(again.status, 200, 'a closed stream frees its slot')
  await again.body?.cancel()
})

t.test('when the stream process dies, then its streams end, the gateway serves streams meanwhile, and the process is started again', async t => {
  const g = await build(t, PROCESS)
  const url = await listen(g)
  const child = g.app.streamProcess!
  const b = stream(t, url, g.as('bob'))
  await b.opened
  const pid = child.pid!
  process.kill(pid, 'SIGKILL')
  await until('the stream ends with the process', () => ended(b))
  await until('the gateway sees the process gone', () => !child.ready)
  t.equal(child.streamsOf('bob'), 0, 'its streams are no longer counted')
  t.match(await metrics(g), /\ntimgate_event_stream_process_up 0\n/, '/metrics shows it down')

  // Meanwhile: served in the gateway's process.
  const meanwhile = stream(t, url, g.as('bob'))
  await meanwhile.opened
  t.equal(g.app.hub.streamsOf('bob'), 1, 'served by the gateway while the process is down')
  await until('the process is started again', () => child.ready, 60_000)
  t.not(child.pid, pid, 'a new process')
  t.match(await metrics(g), /\ntimgate_event_stream_process_restarts_total 1\n/, 'and counts the restart')
  const after = stream(t, url, g.as('bob'))
  await after.opened
  t.equal(child.streamsOf('bob'), 1, 'served by the new process')
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('both hear it'))
  const [inGateway] = await meanwhile.wait(1)
  const [inProcess] = await after.wait(1)
  t.equal(inGateway!.id, inProcess!.id, 'the same event, from either')
})

t.test('when the app closes, then the stream process ends its streams and exits, and the close does not wait for a reader', async t => {
  const g = await build(t, PROCESS)
  const url = await listen(g)
  const pid = g.app.streamProcess!.pid!
  const b = stream(t, url, g.as('bob'))
  await b.opened
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('before the close'))
  await b.wait(1)
  await g.app.close()
  await until('the stream ends', () => ended(b))
  t.notOk(alive(pid), 'the stream process has exited')
})

t.test('when clients reset their connections while they are being handed over, then the gateway stays up, no slot stays taken, and streams after them are served', async t => {
  const g = await build(t, PROCESS)
  const url = await listen(g)
  const { port } = new URL(url)
  const head = `GET /events HTTP/1.1\r\nhost: x\r\nauthorization: ${g.as('bob').authorization}\r\n\r\n`
  // 50 at once (handles go to the child one at a time): each resets as soon as its request
  // is out, some with stray bytes first; many are still queued when their client goes.
  let closed = 0
  const clients = Promise.all(Array.from({ length: 50 }, (_, i) => new Promise<void>(resolve => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(head)
      setImmediate(() => {
        if (i % 2 === 0) socket.write('garbage\r\n\r\n')
        socket.resetAndDestroy()
      })
    })
    socket.on('error', () => {}).on('close', () => { closed++; resolve() })
  })))
  await until(`every client closes (${closed} of 50 have)`, () => closed === 50)
  await clients
  await until('every handed-over stream has left', () => g.app.streamProcess!.streamsOf('bob') === 0)
  const b = stream(t, url, g.as('bob'))
  let opened = false
  void b.opened.then(() => { opened = true })
  await until(`a stream opens after them (the stream process holds ${g.app.streamProcess!.streamsOf('bob')} of bob's)`, () => opened)
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('still here'))
  const [got] = await b.wait(1)
  t.match(got!.data.event_data, { message_elem_array: [{ text_elem_content: 'still here' }] })
  t.equal(g.app.streamProcess!.streamsOf('bob'), 1)
})

t.test('when the stream process dies while connections wait to be handed over, then each ends rather than hangs', async t => {
  const g = await build(t, PROCESS)
  const url = await listen(g)
  const child = g.app.streamProcess!
  const pid = child.pid!
  const streams = Array.from({ length: 30 }, (_, i) => {
    const s = stream(t, url, g.as(`u${i}`))
    const state = { s, opened: false }
    void s.opened.then(() => { state.opened = true })
    return state
  })
  // Killed while the 30 are still arriving and being sent one by one.
  await sleep(5)
  process.kill(pid, 'SIGKILL')
  await until('the gateway sees the process gone', () => !child.ready)
  // Each was served by the process and ended with it, or was waiting and is closed, or came
  // after and is served by the gateway (or the process started again): none hangs unanswered.
  await until('every stream has opened or ended', () => streams.every(x => x.opened || ended(x.s)), 30_000)
  t.pass('no client left hanging')
})
