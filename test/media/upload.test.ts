import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from '../helper.js'
import { bytes, client, listen, mediaFiles, sha256, upload, streamedUpload } from '../fixtures/media.js'

t.test('when a file is uploaded, then 201 answers its id, url, size, type and sha256 and the bytes are stored by hash', async t => {
  const g = await build(t)
  const data = bytes(5000)
  const res = await upload(g, 'alice', data, 'application/pdf')
  t.equal(res.status, 201)
  const u = res.body
  t.match(u.id, /^up_[0-9a-f]{32}$/)
  t.equal(u.url, `/media/${u.id}`)
  t.equal(res.headers.location, `/media/${u.id}`)
  t.equal(u.size, 5000)
  t.equal(u.content_type, 'application/pdf')
  t.equal(u.sha256, sha256(data))
  t.same(readFileSync(join(g.config.dataDir, 'media', 'blobs', sha256(data))), data, 'content-addressed blob')
  const record = JSON.parse(readFileSync(join(g.config.dataDir, 'media', 'uploads', `${u.id}.json`), 'utf8'))
  t.match(record, { id: u.id, owner: 'alice', sha256: sha256(data), size: 5000, content_type: 'application/pdf', created: Number })

  const again = await upload(g, 'bob', data, 'application/pdf')
  t.equal(again.status, 201)
  t.not(again.body.id, u.id, 'a new upload, with its own owner')
  t.same(mediaFiles(g).filter(f => f.startsWith('blobs/')), [`blobs/${sha256(data)}`], 'identical bytes are stored once')
  t.same(mediaFiles(g).filter(f => f.startsWith('tmp/')), [], 'nothing left waiting')
})

t.test('when the upload carries a JSON or no Content-Type, then the bytes are stored as they are', async t => {
  const g = await build(t)
  const notJson = '{"this is": not json'
  const res = await upload(g, 'alice', notJson, 'application/json')
  t.equal(res.status, 201, 'the JSON parser of the rest of the API does not apply')
  t.equal(res.body.sha256, sha256(notJson))
  const untyped = await g.app.inject({ method: 'POST', url: '/media', headers: { ...g.as('alice'), 'content-length': '3' }, payload: 'abc' })
  t.equal(untyped.statusCode, 201)
  t.equal(untyped.json().content_type, 'application/octet-stream')
  const json = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', '{', { 'content-type': 'application/json' })
  t.equal(json.json().code, 6027, 'JSON endpoints still parse JSON')
})

t.test('when the upload is over its limit, then 413 with 7005 and nothing is kept', async t => {
  const g = await build(t, { TIM_MEDIA_MAX_BYTES: '1000' })
  const base = await listen(g)
  const http = client(g, base)
  const exact = await upload(g, 'alice', bytes(1000), 'video/mp4')
  t.equal(exact.status, 201, 'exactly the limit is fine')
  const before = mediaFiles(g)

  const over = await upload(g, 'alice', bytes(1001), 'video/mp4')
  t.equal(over.status, 413)
  t.equal(over.body.code, 7005)
  t.match(over.body.desc, /1000 bytes/)

  // Streamed without a length: the limit is found while reading, on a real socket.
  const chunks = [bytes(600), bytes(600, 2), bytes(600, 3)]
  const streamed = await http('alice', '/media', streamedUpload('application/zip', chunks))
  t.equal(streamed.status, 413)
  t.equal((await streamed.json()).code, 7005)

  const image = await upload(g, 'alice', bytes(5000), 'image/png')
  t.equal(image.status, 201, 'images are allowed 28 MB whatever TIM_MEDIA_MAX_BYTES says')
  const hugeImage = await upload(g, 'alice', Buffer.alloc(28 * 1024 * 1024 + 1), 'image/png')
  t.equal(hugeImage.status, 413)
  t.match(hugeImage.body.desc, /29360128 bytes/)
  const hugeSound = await http('alice', '/media', { method: 'POST', headers: { 'content-type': 'audio/aac', 'content-length': String(28 * 1024 * 1024 + 1) }, body: Buffer.alloc(28 * 1024 * 1024 + 1) })
  t.equal(hugeSound.status, 413, 'a declared length over the limit is refused before reading')

  t.same(mediaFiles(g).filter(f => !before.includes(f) && !f.startsWith('blobs/' + sha256(bytes(5000)))), ['uploads/' + image.body.id + '.json'],
    'only the accepted upload left anything on disk')
})

t.test('when the body is empty, multipart or the Content-Type is malformed, then 400 7006 or 415', async t => {
  const g = await build(t)
  const empty = await g.app.inject({ method: 'POST', url: '/media', headers: g.as('alice') })
  t.equal(empty.statusCode, 400)
  t.equal(empty.json().code, 7006)
  const emptyTyped = await upload(g, 'alice', '', 'image/png')
  t.equal(emptyTyped.status, 400)
  t.equal(emptyTyped.body.code, 7006)
  const form = await upload(g, 'alice', '--x\r\n\r\nhi\r\n--x--', 'multipart/form-data; boundary=x')
  t.equal(form.status, 415)
  t.match(form.body.desc, /--data-binary/)
  const malformed = await upload(g, 'alice', 'hi', 'not a type')
  t.equal(malformed.status, 415)
  t.equal(malformed.body.code, 6017)
  t.same(mediaFiles(g), [], 'nothing kept')
  const anonymous = await g.app.inject({ method: 'POST', url: '/media', headers: { 'content-type': 'image/png' }, payload: 'x' })
  t.equal(anonymous.statusCode, 401)
})

t.test('when the same upload is retried with its Idempotency-Key, then the first answer comes back and nothing more is kept', async t => {
  const g = await build(t)
  const key = { 'idempotency-key': 'upload-1' }
  const first = await upload(g, 'alice', 'same bytes', 'text/plain', key)
  const second = await upload(g, 'alice', 'same bytes', 'text/plain', key)
  t.equal(second.status, 201)
  t.equal(second.body.id, first.body.id)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.equal(mediaFiles(g).filter(f => f.startsWith('uploads/')).length, 1)
  const other = await upload(g, 'alice', 'other bytes', 'text/plain', key)
  t.equal(other.status, 409)
  t.same(mediaFiles(g).filter(f => f.startsWith('tmp/')), [], 'received bytes of refused requests are removed')
})

t.test('when GET /media/{id}, then the uploader and the admin get the bytes and anyone else 404', async t => {
  const g = await build(t)
  const data = bytes(3000)
  const { body: u } = await upload(g, 'alice', data, 'image/webp')
  const own = await g.app.inject({ method: 'GET', url: u.url, headers: g.as('alice') })
  t.equal(own.statusCode, 200)
  t.same(own.rawPayload, data)
  t.equal(own.headers['content-type'], 'image/webp')
  t.equal(own.headers.etag, `"${sha256(data)}"`)
  const admin = await g.app.inject({ method: 'GET', url: u.url, headers: g.as(g.config.adminIdentifier) })
  t.equal(admin.statusCode, 200)
  for (const [who, url] of [['bob', u.url], ['alice', '/media/up_00000000000000000000000000000000'], ['alice', '/media/..%2Fsecret']]) {
    const res = await g.app.inject({ method: 'GET', url: url!, headers: g.as(who!) })
    t.equal(res.statusCode, 404, `${who} ${url}`)
    t.equal(res.json().code, 6021)
  }
  t.ok(existsSync(join(g.config.dataDir, 'secret.json')), 'nothing outside the uploads is reachable')
})
