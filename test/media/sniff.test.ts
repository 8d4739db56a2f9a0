import t from 'tap'
import { isGeneric, sniff } from '../../src/media/sniff.js'
import { build } from '../helper.js'
import { bytes, client, listen, sha256, upload, streamedUpload } from '../fixtures/media.js'

const head = (...parts: Array<string | number[]>) => Buffer.concat([...parts.map(p => typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)), bytes(40)])
const ftyp = (brand: string) => head([0, 0, 0, 0x18], 'ftyp', brand)
const riff = (form: string) => head('RIFF', [0x24, 0, 0, 0], form)

/** Files as clients send them, by the kind their first bytes show. */
const FILES: Array<[string, Buffer]> = [
  ['image/png', head([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
  ['image/jpeg', head([0xff, 0xd8, 0xff, 0xe0])],
  ['image/gif', head('GIF89a')],
  ['image/gif', head('GIF87a')],
  ['image/webp', riff('WEBP')],
  ['audio/wav', riff('WAVE')],
  ['video/x-msvideo', riff('AVI ')],
  ['image/heic', ftyp('heic')],
  ['image/avif', ftyp('avif')],
  ['audio/mp4', ftyp('M4A ')],
  ['video/quicktime', ftyp('qt  ')],
  ['video/mp4', ftyp('isom')],
  ['audio/amr', head('#!AMR\n')],
  ['audio/mpeg', head('ID3', [4, 0])],
  ['audio/mpeg', head([0xff, 0xfb, 0x90])],
  ['audio/ogg', head('OggS')],
  ['audio/flac', head('fLaC')],
  ['video/webm', head([0x1a, 0x45, 0xdf, 0xa3])],
  ['application/pdf', head('%PDF-1.7')],
  ['application/octet-stream', head('RIFF', [0, 0, 0, 0], 'XXXX')],
  ['application/octet-stream', Buffer.from('plain text, no signature')],
]

t.test('when the first bytes are read, then the signatures of common images, sounds, videos and PDF give the kind, and nothing else does', async t => {
  for (const [type, file] of FILES) t.equal(sniff(file), type, `${type}: ${file.subarray(0, 12).toString('hex')}`)
  t.equal(sniff(Buffer.alloc(0)), 'application/octet-stream', 'an empty head')
  t.ok(isGeneric('application/octet-stream') && isGeneric('*/*') && isGeneric(' Application/Octet-Stream; x=1'), 'generic types')
  t.notOk(isGeneric('image/png') || isGeneric('application/pdf'), 'specific types')
})

t.test('when an upload is sent as application/octet-stream or */*, then its kind comes from ?content_type=, else from its bytes', async t => {
  const g = await build(t)
  const png = FILES[0]![1]
  for (const type of ['application/octet-stream', '*/*']) {
    const sniffed = await upload(g, 'alice', png, type)
    t.equal(sniffed.status, 201)
    t.equal(sniffed.body.content_type, 'image/png', `${type}: the signature`)
    t.equal(sniffed.body.sha256, sha256(png), 'the bytes as they were')
  }
  const untyped = await g.app.inject({ method: 'POST', url: '/media', headers: g.as('alice'), payload: Buffer.from('%PDF-1.4 tiny') })
  t.equal(untyped.json().content_type, 'application/pdf', 'no Content-Type at all: the signature')
  const tiny = await upload(g, 'alice', 'GIF', 'application/octet-stream')
  t.equal(tiny.body.content_type, 'application/octet-stream', 'a file shorter than any signature')
  t.equal(tiny.body.size, 3)

  const given = await g.app.inject({ method: 'POST', url: '/media?content_type=audio/aac', headers: { ...g.as('alice'), 'content-type': '*/*' }, payload: png })
  t.equal(given.json().content_type, 'audio/aac', '?content_type= wins over the signature')
  const specific = await g.app.inject({ method: 'POST', url: '/media?content_type=audio/aac', headers: { ...g.as('alice'), 'content-type': 'image/gif' }, payload: png })
  t.equal(specific.json().content_type, 'image/gif', 'a specific Content-Type wins over ?content_type=')
  const download = await g.app.inject({ method: 'GET', url: `/media/${(await upload(g, 'alice', png, '*/*')).body.id}`, headers: g.as('alice') })
  t.equal(download.headers['content-type'], 'image/png', 'downloads answer with the kind found')

  for (const bad of ['multipart/form-data', 'png', 'image/png/x']) {
    const res = await g.app.inject({ method: 'POST', url: `/media?content_type=${encodeURIComponent(bad)}`, headers: { ...g.as('alice'), 'content-type': 'application/octet-stream' }, payload: png })
    t.equal(res.statusCode, 400, bad)
    t.equal(res.json().code, 6017)
  }
})

t.test('when a sniffed upload is over the limit of the kind its bytes show, then 413 with that kind\'s limit', async t => {
  const g = await build(t, { TIM_MEDIA_MAX_BYTES: '1000' })
  const http = client(g, await listen(g))
  const pngHead = FILES[0]![1]
  const image = await upload(g, 'alice', Buffer.concat([pngHead, bytes(5000)]), 'application/octet-stream')
  t.equal(image.status, 201, 'an image may have 28 MB')
  const other = await upload(g, 'alice', bytes(1001), '*/*')
  t.equal(other.status, 413)
  t.match(other.body.desc, /"application\/octet-stream" may be at most 1000 bytes/)
  const declared = await http('alice', '/media', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': String(28 * 1024 * 1024 + 1) }, body: Buffer.alloc(28 * 1024 * 1024 + 1) })
  t.equal(declared.status, 413, 'a declared length over every limit is refused before reading')
  const chunks = [bytes(8), bytes(600, 2), bytes(600, 3)]
  const streamed = await http('alice', '/media', streamedUpload('application/octet-stream', chunks))
  t.equal(streamed.status, 413, 'streamed: found while reading')
  const declaredSmall = await http('alice', '/media', { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': '2000' }, body: new Uint8Array(bytes(2000)) })
  t.equal(declaredSmall.status, 413, 'a declared length over the kind\'s limit, once the kind is known')
})
