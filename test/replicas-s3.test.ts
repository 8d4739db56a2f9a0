import t from 'tap'
import { signUserSig } from '../src/auth/usersig.js'
import { testConfig, text } from './helper.js'
import { startReplica, type Replica } from './fixtures/replica.js'
import { s3Bucket } from './fixtures/s3.js'
import { bytes, fileElem, sha256 } from './fixtures/media.js'
import { stream } from './fixtures/sse.js'
import { receiver } from './fixtures/receiver.js'

type Msg = Record<string, unknown> & { message_msg_id: string, message_seq: number }
interface Answer { status: number, body: unknown, headers: Headers, raw: Buffer }

const textOf = (data: Record<string, unknown>) => (data.message_elem_array as Array<{ text_elem_content?: string }>)[0]?.text_elem_content

/**
 * CONTRACT §11: replicas on one PostgreSQL and one bucket, each with a data dir of its
 * own, answer every request alike, whichever replica a client reaches.
 */
t.test('when two gateway processes share one PostgreSQL schema and one bucket, and no directory', {
  skip: process.env.TIMGATE_TEST_PG === undefined || process.env.TIMGATE_TEST_PG === ''
    ? 'TIMGATE_TEST_PG is unset: replicas need a PostgreSQL server (npm test runs this when one answers)'
    : false,
}, async t => {
  const bucket = await s3Bucket(t)
  const hooks = await receiver(t)
  const config = testConfig(t)
  const env = {
    ...bucket.env,
    TIM_WEBHOOK_ALLOWED_HOSTS: hooks.host,
    // The SDK's notice that releases after January 2027 need Node 22 (docs/scaling.md).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  }
  const [a, b] = await Promise.all([startReplica(t, config, env), startReplica(t, config, env)])
  const as = (user: string) => ({ authorization: `Bearer ${signUserSig(config.sdkAppId, config.secretKey, user, 3600)}` })
  const call = async (r: Replica, user: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const json = body !== undefined && !Buffer.isBuffer(body)
    const res = await fetch(`${r.base}${path}`, {
      method,
      headers: { ...as(user), ...(json && { 'content-type': 'application/json' }), ...headers },
      ...(body !== undefined && { body: json ? JSON.stringify(body) : new Uint8Array(body as Buffer) }),
    })
    const raw = Buffer.from(await res.arrayBuffer())
    const parsed = (res.headers.get('content-type') ?? '').startsWith('application/json') && raw.length > 0 ? JSON.parse(raw.toString()) as unknown : undefined
    return { status: res.status, body: parsed, headers: res.headers, raw }
  }
  const replicas = [a, b]
  let sent = 0
  const send = async (r: Replica, from: string, to: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await call(r, from, 'POST', `/conversations/c2c_${to}/messages`, body, headers)
    if (res.status === 200 && res.headers.get('idempotent-replayed') !== 'true') sent++
    return res
  }

  const hook = await call(a, config.adminIdentifier, 'POST', '/webhooks', { url: hooks.url, event_types: ['message'] })
  t.equal(hook.status, 201, 'a webhook, registered through one replica')
  const live = stream(t, `${a.base}/events`, as('bob'))
  await live.opened

  await t.test('when sends alternate between the replicas, then seqs are 1..N with no gap', async t => {
    const answers = []
    for (let i = 0; i < 10; i++) answers.push(await send(replicas[i % 2]!, i % 3 === 0 ? 'bob' : 'alice', i % 3 === 0 ? 'alice' : 'bob', text(`m${i}`)))
    t.same(answers.map(r => r.status), answers.map(() => 200))
    t.same(answers.map(r => (r.body as Msg).message_seq), Array.from({ length: 10 }, (_, i) => i + 1))
    const history = (await call(b, 'alice', 'POST', '/conversations/c2c_bob/messages/query', { msg_getmsglist_param_count: 100 })).body as Msg[]
    t.same(history.map(m => m.message_seq).sort((x, y) => x - y), Array.from({ length: 10 }, (_, i) => i + 1), 'the same history through either')
  })

  await t.test('when a file is uploaded through one replica, then every replica serves it, whole and in ranges', async t => {
    const data = bytes(6 * 1024 * 1024 + 321, 11)
    const up = await call(a, 'alice', 'POST', '/media', data, { 'content-type': 'video/mp4' })
    t.equal(up.status, 201)
    const u = up.body as { id: string, url: string, sha256: string }
    t.equal(u.sha256, sha256(data))
    const whole = await call(b, 'alice', 'GET', u.url)
    t.equal(whole.status, 200)
    t.ok(whole.raw.equals(data), 'byte-exact from the replica that did not receive it')
    t.equal(whole.headers.get('etag'), `"${sha256(data)}"`)
    const part = await call(b, 'alice', 'GET', u.url, undefined, { range: 'bytes=5242000-5243000' })
    t.equal(part.status, 206)
    t.ok(part.raw.equals(data.subarray(5242000, 5243001)))
    t.equal((await call(b, 'alice', 'GET', u.url, undefined, { range: `bytes=${data.length}-` })).status, 416)
    // Sent through B, downloaded by its recipient through A.
    const msg = await send(b, 'alice', 'bob', { message_elem_array: [fileElem({ id: u.id }, 'clip.mp4')] })
    t.equal(msg.status, 200, 'B knows A\'s upload and its owner')
    const elem = await call(a, 'bob', 'GET', `/conversations/c2c_alice/messages/${(msg.body as Msg).message_msg_id}/elements/0/content`)
    t.ok(elem.raw.equals(data), 'the element, through A')
    t.equal((await call(b, 'bob', 'POST', '/conversations/c2c_alice/messages', { message_elem_array: [fileElem({ id: u.id })] })).status, 403, 'still alice\'s alone')
  })

  await t.test('when an Idempotency-Key is replayed on the other replica, then the answer is the same', async t => {
    const key = { 'idempotency-key': 'across-1' }
    const first = await send(a, 'alice', 'bob', text('once', { message_rand: 5 }), key)
    const again = await send(b, 'alice', 'bob', text('once', { message_rand: 5 }), key)
    t.equal(again.status, 200)
    t.same(again.body, first.body)
    t.equal(again.headers.get('idempotent-replayed'), 'true')
    const upFirst = await call(b, 'alice', 'POST', '/media', Buffer.from('same bytes'), { 'content-type': 'text/plain', 'idempotency-key': 'upload-across' })
    const upAgain = await call(a, 'alice', 'POST', '/media', Buffer.from('same bytes'), { 'content-type': 'text/plain', 'idempotency-key': 'upload-across' })
    t.same(upAgain.body, upFirst.body, 'an upload too')
    t.equal((await bucket.keys()).length, 2, 'the replayed upload\'s copy left the bucket')
  })

  await t.test('when an event stream resumes on the other replica with Last-Event-ID, then it gets exactly what it missed', async t => {
    const seen = await live.wait(sent)
    live.close()
    for (let i = 0; i < 4; i++) await send(replicas[i % 2]!, 'alice', 'bob', text(`while away ${i}`))
    const resumed = stream(t, `${b.base}/events`, as('bob'), seen.at(-1)!.id)
    const missed = await resumed.wait(4)
    t.same(missed.map(e => textOf(e.data.event_data)), [0, 1, 2, 3].map(i => `while away ${i}`))
    t.ok(Number(missed[0]!.id) > Number(seen.at(-1)!.id), 'after the last one seen')
  })

  await t.test('when a conversation is written through one replica, then the list, unread counts and search agree on the other', async t => {
    t.equal((await send(a, 'carol', 'bob', text('a zebra crossing'))).status, 200)
    t.equal((await send(b, 'carol', 'bob', text('second'))).status, 200)
    type Info = { conv_id: string, conv_unread_num: number }
    const listed = async (r: Replica) => ((await call(r, 'bob', 'GET', '/conversations?count=20')).body as { conversations: Info[] }).conversations
    t.match((await listed(a)).find(c => c.conv_id === 'carol'), { conv_unread_num: 2 })
    t.equal((await call(b, 'bob', 'POST', '/conversations/c2c_carol/read')).status, 204)
    t.match((await listed(a)).find(c => c.conv_id === 'carol'), { conv_unread_num: 0 }, 'read through B, seen through A')
    const found = (await call(b, 'bob', 'POST', '/messages/search', { msg_search_param_keyword_array: ['zebra'] })).body as { msg_search_result_total_count: number }
    t.equal(found.msg_search_result_total_count, 1, 'sent through A, found through B')
  })

  await t.test('when both replicas deliver webhooks, then each event is delivered once', async t => {
    const hits = await hooks.wait(sent)
    const ids = hits.map(h => h.json.event_id)
    t.equal(new Set(ids).size, sent, `${sent} events, none twice`)
    t.ok(hits.every(h => h.json.event_type === 'message'))
    t.equal(hooks.hits.length, sent, 'and nothing more')
  })

  t.same(await bucket.keys().then(k => k.length), 2)
  t.equal(a.stderr() + b.stderr(), '', 'no replica wrote to stderr')
})
