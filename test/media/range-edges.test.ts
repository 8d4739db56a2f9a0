import t from 'tap'
import { build, type TestApp } from '../helper.js'
import { bytes, fileElem, origin, sendElems, upload } from '../fixtures/media.js'

/**
 * CONTRACT §12: a Range whose start is beyond 2^53 (or beyond the content) is 416, never
 * ignored; an end beyond the content is trimmed to it (206). Numbers that long are more
 * than a double holds exactly: they must not be rounded, nor dropped as malformed.
 */

const TWO_64 = '18446744073709551616'
const SIZE = 1000

const get = (g: TestApp, user: string, url: string, range: string, headers: Record<string, string> = {}) =>
  g.app.inject({ method: 'GET', url, headers: { ...g.as(user), range, ...headers } })

/** [Range, status, Content-Range, first byte, last byte + 1] */
const cases: Array<[string, number, string, number?, number?]> = [
  [`bytes=${TWO_64}-`, 416, `bytes */${SIZE}`],
  [`bytes=${TWO_64}-${TWO_64}0`, 416, `bytes */${SIZE}`],
  ['bytes=9007199254740992-', 416, `bytes */${SIZE}`],
  ['bytes=9007199254740993-9007199254740999', 416, `bytes */${SIZE}`],
  [`bytes=${'9'.repeat(300)}-`, 416, `bytes */${SIZE}`],
  [`bytes=0-${TWO_64}`, 206, `bytes 0-${SIZE - 1}/${SIZE}`, 0, SIZE],
  [`bytes=990-${'9'.repeat(40)}`, 206, `bytes 990-${SIZE - 1}/${SIZE}`, 990, SIZE],
  ['bytes=10-9007199254740992', 206, `bytes 10-${SIZE - 1}/${SIZE}`, 10, SIZE],
  [`bytes=-${TWO_64}`, 206, `bytes 0-${SIZE - 1}/${SIZE}`, 0, SIZE],
]

t.test('when a stored upload is asked for a Range with numbers beyond 2^53, then a start is 416 and an end is trimmed', async t => {
  const g = await build(t)
  const data = bytes(SIZE)
  const { body: u } = await upload(g, 'alice', data, 'application/pdf')
  const msgId = await sendElems(g, 'alice', 'bob', [fileElem({ id: u.id })])
  const url = `/conversations/c2c_alice/messages/${msgId}/elements/0/content`
  for (const [range, status, contentRange, from, to] of cases) {
    const res = await get(g, 'bob', url, range)
    t.equal(res.statusCode, status, range)
    t.equal(res.headers['content-range'], contentRange, range)
    if (status === 206) t.same(res.rawPayload, data.subarray(from, to), range)
    else t.equal(res.json().code, 6017, range)
  }
  const inverted = await get(g, 'bob', url, `bytes=${TWO_64}1-${TWO_64}`)
  t.equal(inverted.statusCode, 200, 'a last before its first is not a range at all (compared exactly, not rounded): ignored')
  const stale = await get(g, 'bob', url, `bytes=${TWO_64}-`, { 'if-range': '"old"' })
  t.equal(stale.statusCode, 200, 'If-Range with another ETag: the whole content, whatever the range')
})

t.test('when a remote element is asked for a Range with numbers beyond 2^53, then the same: 416 for a start, trimmed for an end', async t => {
  const data = bytes(SIZE)
  /** An origin that honours `first-` and `first-last`, and `-suffix`, as HTTP says; /deaf ignores Range. */
  const o = await origin(t, (req, res) => {
    res.setHeader('etag', '"r1"')
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
    if (m === null || req.url === '/deaf') return res.writeHead(200, { 'content-length': SIZE }).end(data)
    let [start, end] = m[1] === '' ? [Math.max(0, SIZE - Number(m[2])), SIZE - 1] : [Number(m[1]), m[2] === '' ? SIZE - 1 : Math.min(Number(m[2]), SIZE - 1)]
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) [start, end] = [0, SIZE - 1]
    if (start >= SIZE) return res.writeHead(416, { 'content-range': `bytes */${SIZE}` }).end()
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${SIZE}`, 'content-length': end - start + 1 }).end(data.subarray(start, end + 1))
  })
  const g = await build(t, { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${o.port}` })
  for (const path of ['/file', '/deaf']) {
    const msgId = await sendElems(g, 'alice', 'bob', [fileElem({ url: `${o.base}${path}` })])
    const url = `/conversations/c2c_alice/messages/${msgId}/elements/0/content`
    for (const [range, status, contentRange, from, to] of cases) {
      const res = await get(g, 'bob', url, range)
      if (path === '/deaf' && status === 206) {
        t.equal(res.statusCode, 200, `${path} ${range}: an origin that ignores Range gives everything`)
        continue
      }
      t.equal(res.statusCode, status, `${path} ${range}`)
      t.equal(res.headers['content-range'], contentRange, `${path} ${range}`)
      if (status === 206) t.same(res.rawPayload, data.subarray(from, to), `${path} ${range}`)
      else t.equal(res.json().code, 6017, `${path} ${range}`)
    }
    for (const req of o.requests) t.notMatch(req.headers.range ?? '', /Infinity|e\+|\./, 'only plain integers go upstream')
  }
})
