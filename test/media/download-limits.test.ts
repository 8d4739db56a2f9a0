import t from 'tap'
import type { ServerResponse } from 'node:http'
import type { InjectOptions } from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, type TestApp, type TestContext } from '../helper.js'
import { bytes, client, fileElem, listen, origin, sendElems, upload } from '../fixtures/media.js'

const HALF = 4096

/** An origin whose answers send their first half and then wait: `held` are ended (or not) by the test. */
async function holdingOrigin (t: TestContext) {
  const held: ServerResponse[] = []
  const o = await origin(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 2 * HALF })
    res.write(bytes(HALF))
    held.push(res)
  })
  return { ...o, held }
}

interface Started {
  status: number
  retryAfter: string | null
  /** The refusal's {code, desc}. */
  body?: { code: number, desc: string }
  /** The rest of an accepted download's bytes (its first bytes have arrived). */
  rest?: () => Promise<number>
  abort: AbortController
}

/** Starts a download over a real socket; an accepted one is in progress when this resolves. */
function starter (g: TestApp, base: string) {
  const http = client(g, base)
  return async (user: string, path: string, init: RequestInit = {}): Promise<Started> => {
    const abort = new AbortController()
    const res = await http(user, path, { ...init, signal: abort.signal })
    const started = { status: res.status, retryAfter: res.headers.get('retry-after'), abort }
    if (res.status !== 200) return { ...started, body: await res.json() as { code: number, desc: string } }
    const reader = res.body!.getReader()
    let received = (await reader.read()).value?.length ?? 0
    const rest = async () => {
      for (let r = await reader.read(); !r.done; r = await reader.read()) received += r.value.length
      return received
    }
    return { ...started, rest }
  }
}

/** Retries `attempt` until it is accepted: a slot is released when the server has closed the response. */
async function untilAccepted (attempt: () => Promise<Started>): Promise<Started> {
  for (let i = 0; i < 100; i++) {
    const s = await attempt()
    if (s.status !== 429) return s
    await sleep(50)
  }
  return attempt()
}

t.test('when an identity has TIM_DOWNLOAD_CONCURRENCY downloads in progress, then its next one is 429 9507 until one finishes or is aborted; others are not held back', async t => {
  const o = await holdingOrigin(t)
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}`, TIM_DOWNLOAD_CONCURRENCY: '2', TIM_DOWNLOAD_RATE_LIMIT: '0', TIM_RATE_LIMIT: '0' })
  const url = `${o.base}/big.bin`
  const msgId = await sendElems(g, 'alice', 'bob', [fileElem({ url })])
  const mine = await upload(g, 'bob', 'bob\'s own file', 'text/plain')
  const start = starter(g, await listen(g))
  const opened: Started[] = []
  t.teardown(() => opened.forEach(s => s.abort.abort()))
  const open = async (user: string, path: string, init?: RequestInit) => {
    const s = await start(user, path, init)
    opened.push(s)
    return s
  }
  const bobs = `/conversations/c2c_alice/messages/${msgId}/elements/0/content`
  const admin = g.config.adminIdentifier
  const forBob = { headers: { 'x-tim-on-behalf-of': 'bob' } }

  const first = await open('bob', bobs)
  const second = await open('bob', bobs)
  t.same([first.status, second.status], [200, 200], 'two downloads in progress')
  for (const [name, attempt] of [
    ['GET …/content', () => start('bob', bobs)],
    ['POST /downloads', () => start('bob', '/downloads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msg_download_elem_param_url: url }) })],
    ['GET /media/{id}', () => start('bob', `/media/${mine.body.id}`)],
  ] as const) {
    const refused = await attempt()
    t.equal(refused.status, 429, `${name}: a third is refused`)
    t.equal(refused.body?.code, 9507, name)
    t.match(refused.body?.desc, /at most 2 at a time per identity/, name)
    t.equal(refused.retryAfter, '1', name)
  }
  t.equal(o.held.length, 2, 'refused downloads never reach the origin')

  t.equal((await open('alice', `/conversations/c2c_bob/messages/${msgId}/elements/0/content`)).status, 200, 'another identity has its own cap')
  const asAdmin = [await open(admin, bobs, forBob), await open(admin, bobs, forBob), await open(admin, bobs, forBob)]
  t.same(asAdmin.map(s => s.status), [200, 200, 200], 'the admin is exempt, also when acting for bob')
  t.equal((await start('bob', bobs)).status, 429, 'bob is still at his cap')

  o.held[0]!.end(bytes(HALF, 2))
  t.equal(await first.rest!(), 2 * HALF, 'the first download completes with all its bytes')
  const third = await untilAccepted(() => open('bob', bobs))
  t.equal(third.status, 200, 'a finished download frees its slot')
  t.equal((await start('bob', bobs)).status, 429, 'and the cap holds again')

  second.abort.abort()
  const fourth = await untilAccepted(() => open('bob', bobs))
  t.equal(fourth.status, 200, 'a download the client aborted frees its slot')
  t.equal((await start('bob', bobs)).status, 429)
})

t.test('when downloads fail, then each releases its slot: a cap of 1 still lets the next one through', async t => {
  const g = await build(t, { TIM_DOWNLOAD_CONCURRENCY: '1', TIM_DOWNLOAD_RATE_LIMIT: '0', TIM_RATE_LIMIT: '0' })
  const mine = await upload(g, 'bob', 'hello', 'text/plain')
  const refusedUrl = 'http://169.254.169.254/latest/meta-data/'
  const msgId = await sendElems(g, 'alice', 'bob', [fileElem({ url: refusedUrl })])
  const failing: Array<[number, InjectOptions]> = [
    [403, { method: 'GET', url: `/conversations/c2c_alice/messages/${msgId}/elements/0/content` }],
    [404, { method: 'GET', url: `/conversations/c2c_alice/messages/${msgId}/elements/5/content` }],
    [404, { method: 'POST', url: '/downloads', payload: { msg_download_elem_param_url: 'http://nowhere.example/x' } }],
    [400, { method: 'POST', url: '/downloads', payload: { msg_download_elem_param_type: 'one' } }],
    [404, { method: 'GET', url: '/media/up_00000000000000000000000000000000' }],
    [416, { method: 'GET', url: `/media/${mine.body.id}`, headers: { range: 'bytes=100-' } }],
  ]
  for (const [status, req] of failing) {
    const res = await g.app.inject({ ...req, headers: { ...g.as('bob'), ...req.headers } })
    t.equal(res.statusCode, status, `${req.method} ${req.url}`)
  }
  const ok = await g.app.inject({ method: 'GET', url: `/media/${mine.body.id}`, headers: g.as('bob') })
  t.equal(ok.statusCode, 200, 'no slot was leaked')
  t.equal(ok.body, 'hello')
})

t.test('when TIM_DOWNLOAD_CONCURRENCY is 0, then there is no cap', async t => {
  const o = await holdingOrigin(t)
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}`, TIM_DOWNLOAD_CONCURRENCY: '0', TIM_RATE_LIMIT: '0' })
  const msgId = await sendElems(g, 'alice', 'bob', [fileElem({ url: `${o.base}/f` })])
  const start = starter(g, await listen(g))
  const opened: Started[] = []
  t.teardown(() => opened.forEach(s => s.abort.abort()))
  for (let i = 0; i < 6; i++) opened.push(await start('bob', `/conversations/c2c_alice/messages/${msgId}/elements/0/content`))
  t.same(opened.map(s => s.status), Array(6).fill(200), 'six downloads of one identity in progress at once')
})

t.test('when one identity goes over TIM_DOWNLOAD_RATE_LIMIT, then its downloads get 429 9506 with Retry-After; its other requests, other identities and the admin go on', async t => {
  let ms = 1_000_000
  const g = await build(t, { TIM_DOWNLOAD_RATE_LIMIT: '2', TIM_RATE_LIMIT: '0' }, { nowMs: () => ms })
  const mine = await upload(g, 'bob', 'hello', 'text/plain')
  const msgId = await sendElems(g, 'bob', 'alice', [fileElem({ id: mine.body.id })])
  const byRoute = [
    { method: 'GET', url: `/media/${mine.body.id}` },
    { method: 'GET', url: `/conversations/c2c_alice/messages/${msgId}/elements/0/content` },
    { method: 'POST', url: '/downloads', payload: { msg_download_elem_param_type: 1, msg_download_elem_param_id: mine.body.id } },
  ] as const
  const download = (user: string, i: number, headers: Record<string, string> = {}) =>
    g.app.inject({ ...byRoute[i % byRoute.length]!, headers: { ...g.as(user), ...headers } })

  const burst = []
  for (let i = 0; i < 4; i++) burst.push((await download('bob', i)).statusCode)
  t.same(burst, [200, 200, 200, 200], 'a burst of twice the rate, across the three download routes')
  for (let i = 0; i < byRoute.length; i++) {
    const over = await download('bob', i)
    t.equal(over.statusCode, 429, byRoute[i]!.url)
    t.equal(over.json().code, 9506)
    t.match(over.json().desc, /2 downloads per second per identity/)
    t.equal(over.headers['retry-after'], '1')
  }
  t.equal((await g.call('bob', 'GET', '/conversations/c2c_alice/messages')).statusCode, 200, 'other requests are not downloads')
  t.equal((await g.call('bob', 'POST', '/media', 'more', { 'content-type': 'text/plain' })).statusCode, 201, 'nor are uploads')
  t.equal((await g.call('alice', 'GET', `/conversations/c2c_bob/messages/${msgId}/elements/0/content`)).statusCode, 200, 'alice has her own bucket')
  const admin = []
  for (let i = 0; i < 6; i++) admin.push((await download(g.config.adminIdentifier, i, { 'x-tim-on-behalf-of': 'bob' })).statusCode)
  t.same(admin, Array(6).fill(200), 'the admin is exempt')
  ms += 500
  t.equal((await download('bob', 0)).statusCode, 200, 'a token comes back after 1/rate seconds')
  t.equal((await download('bob', 0)).statusCode, 429)
})

t.test('when TIM_DOWNLOAD_RATE_LIMIT is 0, then downloads are not rate limited', async t => {
  const g = await build(t, { TIM_DOWNLOAD_RATE_LIMIT: '0', TIM_RATE_LIMIT: '0' }, { nowMs: () => 5 })
  const mine = await upload(g, 'bob', 'hello', 'text/plain')
  for (let i = 0; i < 30; i++) {
    const res = await g.app.inject({ method: 'GET', url: `/media/${mine.body.id}`, headers: g.as('bob') })
    if (res.statusCode !== 200) return t.fail(`download ${i} got ${res.statusCode}`)
  }
  t.pass('30 downloads at one instant')
})
