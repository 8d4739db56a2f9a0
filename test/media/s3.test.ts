import t from 'tap'
import { existsSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { build } from '../helper.js'
import { bytes, client, fileElem, listen, sendElems, sha256, upload, streamedUpload } from '../fixtures/media.js'
import { s3Bucket, unreachableBucket } from '../fixtures/s3.js'

const MiB = 1024 * 1024

t.test('when uploads go to a bucket, then the bytes are one object each and the record is in the database', async t => {
  const bucket = await s3Bucket(t)
  const g = await build(t, bucket.env)
  const data = bytes(5000)
  const res = await upload(g, 'alice', data, 'application/pdf')
  t.equal(res.status, 201)
  t.match(res.body, { id: /^up_[0-9a-f]{32}$/, size: 5000, content_type: 'application/pdf', sha256: sha256(data) })
  const record = await g.app.store.uploads.get(String(res.body.id))
  t.match(record, { id: res.body.id, owner: 'alice', size: 5000, contentType: 'application/pdf', sha256: sha256(data), objectKey: /^media\/[0-9a-f]{32}$/, created: Number })
  t.same(await bucket.keys(), [record!.objectKey], 'one object, under the key the record names')
  t.notOk(existsSync(join(g.config.dataDir, 'media')), 'nothing of the uploads in the data dir')

  const own = await g.app.inject({ method: 'GET', url: res.body.url, headers: g.as('alice') })
  t.equal(own.statusCode, 200)
  t.same(own.rawPayload, data, 'byte-exact')
  t.equal(own.headers.etag, `"${sha256(data)}"`, 'the ETag is the sha256, not the bucket\'s')
  t.equal(own.headers['content-type'], 'application/pdf')
  t.equal((await g.app.inject({ method: 'GET', url: res.body.url, headers: g.as('bob') })).statusCode, 404, 'another user: 404')

  await bucket.remove(record!.objectKey)
  const lost = await g.app.inject({ method: 'GET', url: res.body.url, headers: g.as('alice') })
  t.equal(lost.statusCode, 500, 'an object gone from under its record: a fault, as a missing file is')
  t.same(lost.json(), { code: 6019, desc: 'internal error' })
})

t.test('when a file above the multipart part size is uploaded, then it comes back byte-exact, whole and in ranges', async t => {
  const bucket = await s3Bucket(t)
  const g = await build(t, { ...bucket.env })
  const base = await listen(g)
  const http = client(g, base)
  const data = bytes(12 * MiB + 12345, 7)
  const etag = `"${sha256(data)}"`
  // Streamed without a length, on a real socket: the parts are cut while the bytes arrive.
  const chunks = Array.from({ length: 13 }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB))
  const posted = await http('alice', '/media', streamedUpload('video/mp4', chunks))
  t.equal(posted.status, 201)
  const u = await posted.json() as { id: string, url: string, size: number, sha256: string }
  t.equal(u.size, data.length)
  t.equal(u.sha256, sha256(data), 'hashed while streaming')

  const whole = await http('alice', u.url)
  t.equal(whole.status, 200)
  t.equal(whole.headers.get('content-length'), String(data.length))
  t.equal(whole.headers.get('etag'), etag)
  t.ok(Buffer.from(await whole.arrayBuffer()).equals(data), 'the whole file byte-exact')

  // Across the boundary of the first two 5 MiB parts.
  const from = 5 * MiB - 100
  const part = await http('alice', u.url, { headers: { range: `bytes=${from}-${from + 199}` } })
  t.equal(part.status, 206)
  t.equal(part.headers.get('content-range'), `bytes ${from}-${from + 199}/${data.length}`)
  t.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(from, from + 200)), 'a range across parts')
  const suffix = await http('alice', u.url, { headers: { range: 'bytes=-10' } })
  t.equal(suffix.status, 206)
  t.ok(Buffer.from(await suffix.arrayBuffer()).equals(data.subarray(data.length - 10)), 'the last bytes')
  const open = await http('alice', u.url, { headers: { range: `bytes=${data.length - 5}-` } })
  t.ok(Buffer.from(await open.arrayBuffer()).equals(data.subarray(data.length - 5)), 'an open-ended range')

  const beyond = await http('alice', u.url, { headers: { range: `bytes=${data.length}-` } })
  t.equal(beyond.status, 416)
  t.equal(beyond.headers.get('content-range'), `bytes */${data.length}`)
  t.equal((await beyond.json() as { code: number }).code, 6017)
  const cached = await http('alice', u.url, { headers: { 'if-none-match': etag } })
  t.equal(cached.status, 304)
  await cached.arrayBuffer()
  const stale = await http('alice', u.url, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } })
  t.equal(stale.status, 200, 'If-Range of another ETag: the whole content')
  await stale.body?.cancel()
  t.equal((await bucket.keys()).length, 1)
})

t.test('when an upload is over its limit, then 413 and the bucket keeps nothing of it', async t => {
  const bucket = await s3Bucket(t)
  const g = await build(t, { ...bucket.env, TIM_MEDIA_MAX_BYTES: String(6 * MiB) })
  const http = client(g, await listen(g))
  t.equal((await upload(g, 'alice', bytes(6 * MiB + 1), 'video/mp4')).status, 413, 'a declared length over the limit')
  // Without a length: found while streaming, after a first part has gone to the bucket.
  const chunks = Array.from({ length: 7 }, (_, i) => bytes(MiB, i + 1))
  const streamed = await http('alice', '/media', streamedUpload('application/zip', chunks))
  t.equal(streamed.status, 413)
  t.equal((await streamed.json() as { code: number }).code, 7005)
  const image = await upload(g, 'alice', bytes(28 * MiB + 1), 'image/png')
  t.equal(image.status, 413, 'images: 28 MB')
  t.same(await bucket.keys(), [], 'no object left')
})

t.test('when an upload is sent in a message, then the element downloads from the bucket and only the uploader may send it', async t => {
  const bucket = await s3Bucket(t)
  const g = await build(t, bucket.env)
  const data = bytes(70_000, 3)
  const { body: u } = await upload(g, 'alice', data, 'application/pdf')
  const denied = await g.call('bob', 'POST', '/conversations/c2c_alice/messages', { message_elem_array: [fileElem({ id: u.id })] })
  t.equal(denied.statusCode, 403, 'another user\'s upload')
  const msgId = await sendElems(g, 'alice', 'bob', [fileElem({ id: u.id })])
  const elem = await g.app.inject({ method: 'GET', url: `/conversations/c2c_alice/messages/${msgId}/elements/0/content`, headers: { ...g.as('bob'), range: 'bytes=100-199' } })
  t.equal(elem.statusCode, 206)
  t.same(elem.rawPayload, data.subarray(100, 200))
  const byParam = await g.call('bob', 'POST', '/downloads', { msg_download_elem_param_id: u.id })
  t.equal(byParam.statusCode, 200)
  t.same(byParam.rawPayload, data)
})

t.test('when an upload is replayed by its Idempotency-Key, then its second copy leaves the bucket', async t => {
  const bucket = await s3Bucket(t)
  const g = await build(t, bucket.env)
  const key = { 'idempotency-key': 'upload-1' }
  const first = await upload(g, 'alice', 'same bytes', 'text/plain', key)
  const second = await upload(g, 'alice', 'same bytes', 'text/plain', key)
  t.equal(second.body.id, first.body.id)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.equal((await upload(g, 'alice', 'other bytes', 'text/plain', key)).status, 409)
  t.equal((await bucket.keys()).length, 1, 'the replay\'s and the refused request\'s bytes are removed')
})

t.test('when the client goes away in the middle of a multipart upload, then nothing is kept and the gateway goes on', async t => {
  const bucket = await s3Bucket(t)
  const lines: Array<{ level: number, msg?: string }> = []
  let ended!: () => void
  const clientGone = new Promise<void>(resolve => { ended = resolve })
  const sink = new Writable({
    write (chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(l => l !== '')) {
        const line = JSON.parse(l) as { level: number, msg?: string }
        lines.push(line)
        if (line.msg === 'request ended: the client went away') ended()
      }
      cb()
    },
  })
  const g = await build(t, { ...bucket.env, LOG_LEVEL: 'info' }, { logStream: sink })
  const base = new URL(await listen(g))
  const req = request({ host: base.hostname, port: base.port, method: 'POST', path: '/media', headers: { ...g.as('alice'), 'content-type': 'video/mp4', 'content-length': String(20 * MiB) } })
  req.on('error', () => {})
  // Two parts' worth, so that a multipart upload is under way; then the connection drops.
  for (let i = 0; i < 11; i++) await new Promise<void>(resolve => req.write(bytes(MiB, i), () => resolve()))
  req.destroy()
  // Its log line says the request is over: what it wrote is gone by then.
  await clientGone
  t.pass('logged as the client\'s doing, not a fault')
  t.notOk(lines.some(l => l.level >= 50), 'no error logged')
  t.same(await bucket.keys(), [], 'no object')
  t.equal((await upload(g, 'alice', bytes(100), 'text/plain')).status, 201, 'the next upload is fine')
})

t.test('when the bucket does not answer, then uploads and downloads are 503 with {code, desc} and the gateway goes on', async t => {
  const down = await build(t, await unreachableBucket())
  const refused = await upload(down, 'alice', bytes(1000), 'application/pdf')
  t.equal(refused.status, 503)
  t.same(refused.body, { code: 6019, desc: 'the media storage is unavailable: retry shortly' })
  t.equal(refused.headers['retry-after'], '2')
  t.equal((await down.call('alice', 'GET', '/health')).statusCode, 200, 'still serving')

  const bucket = await s3Bucket(t)
  const g = await build(t, bucket.env)
  const { body: u } = await upload(g, 'alice', bytes(1000), 'application/pdf')
  await bucket.close()
  const gone = await g.app.inject({ method: 'GET', url: u.url, headers: g.as('alice') })
  t.equal(gone.statusCode, 503, 'a download once the bucket has gone')
  t.equal(gone.json().code, 6019)
  const again = await upload(g, 'alice', bytes(1000), 'application/pdf')
  t.equal(again.status, 503)
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/messages', { message_elem_array: [{ elem_type: 0, text_elem_content: 'hi' }] })).statusCode, 200, 'messages go on')
})
