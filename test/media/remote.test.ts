import t from 'tap'
import { once } from 'node:events'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, type TestApp } from '../helper.js'
import { bytes, client, fileElem, listen, origin, sendElems, sha256 } from '../fixtures/media.js'

const download = (g: TestApp, user: string, url: string, headers: Record<string, string> = {}) =>
  g.app.inject({ method: 'POST', url: '/downloads', headers: { ...g.as(user), ...headers }, payload: { msg_download_elem_param_type: 1, msg_download_elem_param_url: url } })

/** alice sends bob a file element pointing at `url`; bob downloads it by the SDK parameter. */
async function sendAndDownload (g: TestApp, url: string, headers: Record<string, string> = {}) {
  await sendElems(g, 'alice', 'bob', [fileElem({ url })])
  return download(g, 'bob', url, headers)
}

/** The headers a download may carry: the gateway's own, and nothing of the upstream's. */
const OURS = new Set(['content-type', 'content-length', 'content-range', 'content-disposition', 'content-encoding', 'etag', 'accept-ranges',
  'cache-control', 'content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'x-request-id', 'date', 'connection', 'keep-alive', 'transfer-encoding'])

t.test('when an element carries an allowed remote URL, then both download forms proxy its bytes with only the gateway\'s headers', async t => {
  const data = bytes(200_000)
  const o = await origin(t, (req, res) => {
    res.setHeader('set-cookie', 'session=stolen')
    res.setHeader('x-secret', 'internal')
    res.setHeader('server', 'origin/1.0')
    res.setHeader('access-control-allow-origin', '*')
    res.setHeader('etag', '"v1"')
    res.setHeader('content-type', 'image/png')
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (range !== null) {
      const [start, end] = [Number(range[1]), Number(range[2])]
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${data.length}`, 'content-length': end - start + 1 })
      return res.end(data.subarray(start, end + 1))
    }
    if (req.headers['if-none-match'] === '"v1"') return res.writeHead(304).end()
    res.setHeader('content-length', data.length)
    res.end(data)
  })
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}` })
  const url = `${o.base}/pic.png?size=large`
  const msgId = await sendElems(g, 'alice', 'bob', [{ elem_type: 1, image_elem_orig_url: url }])
  const http = client(g, await listen(g))
  for (const res of [
    await http('bob', `/conversations/c2c_alice/messages/${msgId}/elements/0/content`),
    await http('bob', '/downloads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msg_download_elem_param_url: url }) }),
  ]) {
    t.equal(res.status, 200)
    t.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(data), 'the same bytes')
    t.equal(res.headers.get('content-type'), 'image/png', 'the upstream\'s type')
    t.equal(res.headers.get('content-length'), String(data.length))
    t.equal(res.headers.get('etag'), '"v1"', 'the upstream\'s ETag')
    t.equal(res.headers.get('accept-ranges'), 'bytes')
    t.same([...res.headers.keys()].filter(h => !OURS.has(h)), [], 'no upstream header reaches the client')
    t.equal(res.headers.get('set-cookie'), null)
  }
  t.equal(o.requests[0]!.url, '/pic.png?size=large', 'path and query go upstream')
  t.equal(o.requests[0]!.headers.cookie, undefined)
  t.equal(o.requests[0]!.headers.authorization, undefined, 'the caller\'s UserSig never goes upstream')

  const ranged = await download(g, 'bob', url, { range: 'bytes=100-199' })
  t.equal(ranged.statusCode, 206)
  t.equal(ranged.headers['content-range'], `bytes 100-199/${data.length}`)
  t.same(ranged.rawPayload, data.subarray(100, 200))
  t.equal(o.requests.at(-1)!.headers.range, 'bytes=100-199', 'Range goes upstream')
  const notModified = await download(g, 'bob', url, { 'if-none-match': '"v1"' })
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.headers.etag, '"v1"')
})

t.test('when the origin redirects, then each hop is checked: allowed hops are followed, others refused before contact', async t => {
  const data = bytes(1000)
  const outside = await origin(t, (_req, res) => res.end('should never be fetched'))
  const o = await origin(t, (req, res) => {
    const hop = /^\/hop\/(\d+)$/.exec(req.url ?? '')
    if (hop !== null) return res.writeHead(302, { location: Number(hop[1]) === 0 ? '/final' : `/hop/${Number(hop[1]) - 1}` }).end()
    if (req.url === '/outside') return res.writeHead(301, { location: `${outside.base}/x` }).end()
    if (req.url === '/by-name') return res.writeHead(307, { location: `http://localhost:${o.port}/final` }).end()
    if (req.url === '/ftp') return res.writeHead(308, { location: 'ftp://127.0.0.1/x' }).end()
    if (req.url === '/nowhere') return res.writeHead(302).end()
    res.end(data)
  })
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port},localhost:${o.port}` })
  const five = await sendAndDownload(g, `${o.base}/hop/4`)
  t.equal(five.statusCode, 200, 'five redirects are followed')
  t.same(five.rawPayload, data)
  const six = await sendAndDownload(g, `${o.base}/hop/5`)
  t.equal(six.statusCode, 502, 'the sixth is not')
  t.equal(six.json().code, 6009)
  t.match(six.json().desc, /more than 5 redirects/)
  const away = await sendAndDownload(g, `${o.base}/outside`)
  t.equal(away.statusCode, 403)
  t.equal(away.json().code, 6010)
  t.match(away.json().desc, `127.0.0.1:${outside.port} is a loopback address`)
  t.equal(outside.requests.length, 0, 'the disallowed target was never contacted')
  const byName = await sendAndDownload(g, `${o.base}/by-name`)
  t.equal(byName.statusCode, 403, 'an allowed name that resolves to loopback is refused')
  t.match(byName.json().desc, /"localhost" resolves to .*a loopback address/)
  t.equal((await sendAndDownload(g, `${o.base}/ftp`)).statusCode, 403)
  const noLocation = await sendAndDownload(g, `${o.base}/nowhere`)
  t.equal(noLocation.statusCode, 502)
  t.match(noLocation.json().desc, /without a Location/)
})

t.test('when an allowed host name resolves to a loopback address, then it is refused at connect time and never contacted', async t => {
  const o = await origin(t, (_req, res) => res.end('secret'))
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `localhost:${o.port}` })
  const res = await sendAndDownload(g, `http://localhost:${o.port}/admin`)
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 6010)
  t.match(res.json().desc, /download refused: "localhost" resolves to (127\.0\.0\.1|::1), a loopback address/)
  t.equal(o.requests.length, 0)
})

t.test('when the origin fails, then 502: 6009 for its error statuses, 6010 when it cannot be reached', async t => {
  const o = await origin(t, (req, res) => { res.writeHead(req.url === '/gone' ? 404 : 500, { 'x-secret': 'internal' }).end('upstream error page') })
  const dead = createServer()
  dead.listen(0, '127.0.0.1')
  await once(dead, 'listening')
  const deadPort = (dead.address() as AddressInfo).port
  await new Promise(resolve => dead.close(resolve))
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port},127.0.0.1:${deadPort},no-such-host.invalid` })
  for (const [path, status] of [['/boom', 500], ['/gone', 404]] as const) {
    const res = await sendAndDownload(g, `${o.base}${path}`)
    t.equal(res.statusCode, 502, path)
    t.equal(res.json().code, 6009, path)
    t.match(res.json().desc, `answered ${status}`, path)
    t.notOk(res.body.includes('upstream error page'), 'the upstream body is not passed on')
    t.equal(res.headers['x-secret'], undefined)
  }
  const refused = await sendAndDownload(g, `http://127.0.0.1:${deadPort}/x`)
  t.equal(refused.statusCode, 502)
  t.equal(refused.json().code, 6010)
  t.match(refused.json().desc, /ECONNREFUSED/)
  const unresolvable = await sendAndDownload(g, 'http://no-such-host.invalid/x')
  t.equal(unresolvable.statusCode, 502)
  t.equal(unresolvable.json().code, 6010)
  t.match(unresolvable.json().desc, /ENOTFOUND|EAI_AGAIN/)
})

t.test('when the origin hangs, then 504 after TIM_DOWNLOAD_TIMEOUT_MS; a slow but steady origin completes', async t => {
  // The slow origin is never idle for more than a sixth of the timeout, so a busy machine
  // that delays its ticks does not make it look idle; its whole body takes longer than the timeout.
  const TIMEOUT_MS = 600
  const TICK_MS = 100
  const CHUNKS = 8
  const data = bytes(10 * 1000)
  const chunk = data.length / CHUNKS
  const o = await origin(t, (req, res) => {
    if (req.url === '/hang') return
    if (req.url === '/late') {
      // Whole and quick to send, but only after 3 s: in time for the default 30 s, not for 600 ms.
      const late = setTimeout(() => res.writeHead(200, { 'content-length': data.length }).end(data), 3000)
      res.on('close', () => clearTimeout(late))
      return
    }
    res.writeHead(200, { 'content-length': data.length })
    let i = 0
    const tick = setInterval(() => {
      res.write(data.subarray(i * chunk, (i + 1) * chunk))
      if (++i === CHUNKS) {
        clearInterval(tick)
        res.end()
      }
    }, TICK_MS)
    res.on('close', () => clearInterval(tick))
  })
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}`, TIM_DOWNLOAD_TIMEOUT_MS: String(TIMEOUT_MS) })
  const hung = await sendAndDownload(g, `${o.base}/hang`)
  t.equal(hung.statusCode, 504)
  t.equal(hung.json().code, 6012)
  // The configured timeout applies, not a default: an answer 3 s late is refused the same way.
  const late = await sendAndDownload(g, `${o.base}/late`)
  t.equal(late.statusCode, 504, 'an origin that answers after TIM_DOWNLOAD_TIMEOUT_MS is too late')
  t.equal(late.json().code, 6012)
  t.match(late.json().desc, /^download timed out: 127\.0\.0\.1:\d+: /)
  const slow = await sendAndDownload(g, `${o.base}/slow`)
  t.equal(slow.statusCode, 200, `${CHUNKS * TICK_MS} ms of body, never idle for ${TIMEOUT_MS} ms`)
  t.same(slow.rawPayload, data)
})

t.test('when the client goes away mid-download, then the upstream request is closed too', async t => {
  let closed: () => void
  const upstreamClosed = new Promise<void>(resolve => { closed = resolve })
  const o = await origin(t, (_req, res) => {
    res.writeHead(200, { 'content-length': 10_000_000 })
    res.write(bytes(65536))
    res.on('close', () => { if (!res.writableFinished) closed() })
  })
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}` })
  const url = `${o.base}/big`
  const msgId = await sendElems(g, 'alice', 'bob', [fileElem({ url })])
  const http = client(g, await listen(g))
  const abort = new AbortController()
  const res = await http('bob', `/conversations/c2c_alice/messages/${msgId}/elements/0/content`, { signal: abort.signal })
  t.equal(res.status, 200)
  const reader = res.body!.getReader()
  t.ok((await reader.read()).value!.length > 0, 'bytes were flowing')
  abort.abort()
  const outcome = await Promise.race([upstreamClosed.then(() => 'closed'), sleep(5000).then(() => 'still open')])
  t.equal(outcome, 'closed', 'the origin saw its request closed')
})

t.test('when a remote body is over TIM_MEDIA_MAX_BYTES, then it is refused up front, or cut off when its length was not announced', async t => {
  const o = await origin(t, (req, res) => {
    if (req.url === '/announced') return res.writeHead(200, { 'content-length': 5000 }).end(bytes(5000))
    // No length: the first 800 bytes pass (and the answer starts), the rest goes over.
    res.write(bytes(800))
    setTimeout(() => res.end(bytes(2500, 2)), 100)
  })
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}`, TIM_MEDIA_MAX_BYTES: '1000' })
  const announced = await sendAndDownload(g, `${o.base}/announced`)
  t.equal(announced.statusCode, 502)
  t.equal(announced.json().code, 6009)
  t.match(announced.json().desc, /5000 bytes, over TIM_MEDIA_MAX_BYTES/)
  await sendElems(g, 'alice', 'bob', [fileElem({ url: `${o.base}/chunked` })])
  const http = client(g, await listen(g))
  const res = await http('bob', '/downloads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msg_download_elem_param_url: `${o.base}/chunked` }) })
  await t.rejects(res.arrayBuffer(), 'the response is cut off, not completed')
})

t.test('when the allow-list names the literal IP, then it is an opt-in for that address, in any spelling', async t => {
  const o = await origin(t, (_req, res) => res.end('ok'))
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}` })
  t.equal((await sendAndDownload(g, `http://2130706433:${o.port}/`)).statusCode, 200, 'decimal 127.0.0.1 is 127.0.0.1')
  const otherPort = await sendAndDownload(g, `http://127.0.0.1:${o.port + 1}/`)
  t.equal(otherPort.statusCode, 403, 'the port must match too')
})
