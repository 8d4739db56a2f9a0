import t from 'tap'
import type { StoredUpload } from '../../db/store.js'
import { openStore } from './open.js'

const upload = (id: string, extra: Partial<StoredUpload> = {}): StoredUpload => ({
  id,
  owner: 'alice',
  sha256: 'ab'.repeat(32),
  size: 6 * 1024 * 1024 * 1024,
  contentType: 'video/mp4',
  objectKey: `media/${id}`,
  created: 1_700_000_000,
  ...extra,
})

t.test('when an upload is recorded, then it is found by its id field by field', async t => {
  const s = await openStore(t)
  const u = upload('up_0123456789abcdef0123456789abcdef')
  await s.uploads.insert(u)
  t.same(await s.uploads.get(u.id), u, 'a size beyond 2^32 too')
  t.equal(await s.uploads.get('up_ffffffffffffffffffffffffffffffff'), undefined, 'an unknown id: nothing')
})

t.test('when two uploads are recorded, then each keeps its own owner and key', async t => {
  const s = await openStore(t)
  await s.uploads.insert(upload('up_a', { owner: 'alice', objectKey: 'media/a' }))
  await s.uploads.insert(upload('up_b', { owner: 'bob\nbob', objectKey: 'media/b', contentType: 'image/png', size: 1 }))
  t.match(await s.uploads.get('up_a'), { owner: 'alice', objectKey: 'media/a' })
  t.match(await s.uploads.get('up_b'), { owner: 'bob\nbob', objectKey: 'media/b', contentType: 'image/png', size: 1 })
})

t.test('when an id is recorded twice, then the second insert fails and the first stays', async t => {
  const s = await openStore(t)
  await s.uploads.insert(upload('up_a'))
  await t.rejects(s.uploads.insert(upload('up_a', { owner: 'mallory' })))
  t.match(await s.uploads.get('up_a'), { owner: 'alice' })
})
