import t from 'tap'
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { build } from '../helper.js'
import { bytes, client, fileElem, listen, origin, sendElems, sha256 } from '../fixtures/media.js'

/**
 * A remote origin that drips a byte at a time is never idle for TIM_DOWNLOAD_TIMEOUT_MS,
 * so an idle timeout alone kept such a download (and one of its identity's download
 * slots) open for ever. A fetch must average 1 KiB/s over each window of
 * TIM_DOWNLOAD_TIMEOUT_MS while the client is taking what it is sent; slower is cut.
 * No elapsed time is asserted: the outcomes are (the download cut, the slot free).
 */

/** Resolves with 'cut' when the body fails, 'complete' when it ends, 'open' after `ms` (a deadline, not a measurement). */
async function outcome (body: Promise<ArrayBuffer>, ms: number): Promise<'cut' | 'complete' | 'open'> {
  const deadline = new AbortController()
  const result = await Promise.race([
    body.then(() => 'complete' as const, () => 'cut' as const),
    sleep(ms, 'open' as const, { signal: deadline.signal }).catch(() => 'open' as const),
  ])
  deadline.abort()
  return result
}

t.test('when an origin drips a byte at a time, then the download is cut and its slot comes back: a 5th download runs with TIM_DOWNLOAD_CONCURRENCY=4', async t => {
  const dripping: ServerResponse[] = []
  const upstreamClosed: Array<Promise<void>> = []
  const data = bytes(50_000)
  const o = await origin(t, (req, res) => {
    if (req.url === '/fine') return res.writeHead(200, { 'content-length': data.length }).end(data)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 1_000_000 })
    dripping.push(res)
    upstreamClosed.push(new Promise(resolve => res.on('close', () => resolve())))
    // 1 byte every 20 ms: never idle for the 200 ms timeout, ~50 B/s against a floor of 1 KiB/s.
    const drip = setInterval(() => res.write(Buffer.from([0x2a])), 20)
    res.on('close', () => clearInterval(drip))
  })
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}`, TIM_DOWNLOAD_TIMEOUT_MS: '200', TIM_DOWNLOAD_CONCURRENCY: '4' })
  const slowId = await sendElems(g, 'alice', 'bob', [fileElem({ url: `${o.base}/drip` })])
  const fineId = await sendElems(g, 'alice', 'bob', [fileElem({ url: `${o.base}/fine` })])
  const http = client(g, await listen(g))
  const path = (id: string) => `/conversations/c2c_alice/messages/${id}/elements/0/content`

  const drips = await Promise.all([0, 1, 2, 3].map(() => http('bob', path(slowId))))
  t.same(drips.map(r => r.status), [200, 200, 200, 200], 'four downloads start (the 200 is sent before the body)')
  const outcomes = await Promise.all(drips.map(r => outcome(r.arrayBuffer(), 20_000)))
  t.same(outcomes, ['cut', 'cut', 'cut', 'cut'], 'each is cut, not completed and not left open')
  t.equal(await outcome(Promise.all(upstreamClosed).then(() => new ArrayBuffer(0)), 5000), 'complete', 'the origin saw each request closed')

  // The slots are released when the responses close, which the client may see first.
  let fifth = await http('bob', path(fineId))
  for (let i = 0; i < 50 && fifth.status === 429; i++) {
    await fifth.arrayBuffer()
    await sleep(50)
    fifth = await http('bob', path(fineId))
  }
  t.equal(fifth.status, 200, 'a fifth download gets a slot')
  t.equal(sha256(Buffer.from(await fifth.arrayBuffer())), sha256(data), 'and completes')
})

t.test('when an origin is slow but well above 1 KiB/s, or the client is the slow one, then the download completes', async t => {
  const data = bytes(60_000)
  const o = await origin(t, (_req, res) => {
    res.writeHead(200, { 'content-length': data.length })
    // 1000 bytes every 20 ms: 50 KB/s, over several 500 ms windows.
    let i = 0
    const tick = setInterval(() => {
      res.write(data.subarray(i * 1000, (i + 1) * 1000))
      if (++i === 60) {
        clearInterval(tick)
        res.end()
      }
    }, 20)
    res.on('close', () => clearInterval(tick))
  })
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}`, TIM_DOWNLOAD_TIMEOUT_MS: '500' })
  const msgId = await sendElems(g, 'alice', 'bob', [fileElem({ url: `${o.base}/steady` })])
  const http = client(g, await listen(g))
  const res = await http('bob', `/conversations/c2c_alice/messages/${msgId}/elements/0/content`)
  t.equal(res.status, 200)
  t.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(data), 'a steady origin completes')

  // A client that stops reading holds the gateway back: that time is not the origin's.
  // 64 MiB: more than the socket buffers between them take, so the gateway really waits.
  const chunk = bytes(64 * 1024)
  const total = 1024 * chunk.length
  const fast = await origin(t, (_req, res) => {
    res.writeHead(200, { 'content-length': total })
    Readable.from((function * () { for (let i = 0; i < 1024; i++) yield chunk })()).pipe(res)
  })
  const g2 = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${fast.port}`, TIM_DOWNLOAD_TIMEOUT_MS: '200' })
  const bigId = await sendElems(g2, 'alice', 'bob', [fileElem({ url: `${fast.base}/big` })])
  const http2 = client(g2, await listen(g2))
  const slowReader = await http2('bob', `/conversations/c2c_alice/messages/${bigId}/elements/0/content`)
  const reader = slowReader.body!.getReader()
  let received = (await reader.read()).value?.length ?? 0
  await sleep(1500) // several windows with the client taking nothing
  for (let r = await reader.read(); !r.done; r = await reader.read()) received += r.value.length
  t.equal(received, total, 'all of it, after the client came back')
})
