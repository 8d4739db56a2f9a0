import t from 'tap'
import { Origin, positionOf } from '../../db/store.js'
import { c2c, draft, group, openStore } from './open.js'

const texts = (ms: Array<{ content: { message_elem_array: Array<Record<string, unknown>> } }>) =>
  ms.map(m => m.content.message_elem_array[0]?.text_elem_content)

t.test('when messages are inserted, concurrently too, then each conversation counts 1, 2, 3 … and ids grow', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const ac = c2c('a', 'c')
  const stored = await Promise.all(Array.from({ length: 40 }, (_, i) => s.messages.insert([draft(i % 2 === 0 ? ab : ac, 'a', `m${i}`)])))
  const flat = stored.flat()
  for (const conv of [ab, ac]) {
    const seqs = flat.filter(m => m.convKey === conv.key).map(m => m.seq).sort((x, y) => x - y)
    t.same(seqs, Array.from({ length: 20 }, (_, i) => i + 1), `${conv.key}: 1…20, no gap, no repeat`)
  }
  const page = await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 100 })
  t.same(page.map(m => m.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'history order is seq order')
  t.ok(page.every((m, i) => i === 0 || m.id > page[i - 1]!.id), 'ids grow in commit order')
  const batch = await s.messages.insert([draft(ab, 'b', 'x'), draft(ac, 'c', 'y'), draft(ab, 'a', 'z')])
  t.same(batch.map(m => m.seq), [21, 21, 22], 'one call across conversations')
})

t.test('when a sent message carries an earlier time than the last sent one, then it gets that time; imports keep theirs', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const [first] = await s.messages.insert([draft(ab, 'a', 'late', { serverTime: 2000 })])
  const [second] = await s.messages.insert([draft(ab, 'b', 'early', { serverTime: 1000 })])
  t.equal(second!.serverTime, 2000, 'raised to the last sent time: (time, seq) keeps commit order')
  const [imported] = await s.messages.insert([draft(ab, 'a', 'old', { serverTime: 500, origin: Origin.Imported, status: 5 })])
  t.equal(imported!.serverTime, 500)
  t.equal(imported!.seq, 3)
  const [third] = await s.messages.insert([draft(ab, 'a', 'next', { serverTime: 1500 })])
  t.equal(third!.serverTime, 2000, 'an import does not lower the last sent time')
  t.ok(first!.id < second!.id)
})

t.test('when a message is saved, then it has seq 0 and only its owner sees it', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  await s.messages.insert([draft(ab, 'a', 'shared')])
  const [saved] = await s.messages.insert([draft(ab, 'a', 'mine', { owner: 'a', origin: Origin.Saved, status: 5 })])
  t.equal(saved!.seq, 0)
  t.ok(await s.messages.get(ab.key, 'a', saved!.id))
  t.equal(await s.messages.get(ab.key, 'b', saved!.id), undefined, 'not the peer\'s')
  t.same(texts(await s.messages.history({ convKey: ab.key, viewer: 'b', forward: true, limit: 10 })), ['shared'])
  t.same(texts(await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 10 })), ['shared', 'mine'])
  t.equal(await s.messages.get(c2c('a', 'c').key, 'a', saved!.id), undefined, 'not found in another conversation')
})

t.test('when the same import comes again, in one call or another, then it is the stored one and nothing is added', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const imp = draft(ab, 'b', 'hello', { serverTime: 100, rand: 7, origin: Origin.Imported, status: 5 })
  const [one, twin] = await s.messages.insert([imp, { ...imp }])
  t.equal(twin!.id, one!.id, 'the twin in one call is the first')
  const [again] = await s.messages.insert([{ ...imp }])
  t.equal(again!.id, one!.id)
  t.same(again!.content, imp.content)
  t.equal((await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 10 })).length, 1)
  const [other] = await s.messages.insert([{ ...imp, rand: 8 }, { ...imp }])
  t.not(other!.id, one!.id, 'another rand is another message')
  t.equal(other!.seq, 2, 'the twins spent no seq')
  const [sent] = await s.messages.insert([draft(ab, 'a', 'after')])
  t.equal(sent!.seq, 3, 'nor does a twin last in its call')
})

t.test('when imported texts hold what COPY escapes (backslash, newline, return, tab), then they read back as written', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const written = ['back\\slash', 'new\nline', 'return\r', 'tab\there', 'all \\n\t\r\n "quoted" \u00e9\u4e2d', 'plain']
  await s.messages.insert(written.map((text, i) => draft(ab, 'b', text, { serverTime: 100 + i, rand: i, origin: Origin.Imported, status: 5 })))
  t.same(texts(await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 10 })), written)
})

t.test('when the same import arrives twice at once, then both answer the one stored copy', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const dump = Array.from({ length: 12 }, (_, i) => draft(ab, 'b', `m${i}`, { serverTime: 1000 + i, rand: i, origin: Origin.Imported, status: 5 }))
  // Twelve messages: each write alone, in a transaction of its own, racing on the same rows.
  const [x, y] = await Promise.all([s.messages.insert(dump.map(m => ({ ...m }))), s.messages.insert(dump.map(m => ({ ...m })))])
  t.same(y!.map(m => m.id), x!.map(m => m.id))
  const page = await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 100 })
  t.same(page.map(m => m.seq), Array.from({ length: 12 }, (_, i) => i + 1), 'stored once, gapless')
})

t.test('when one message of an insert cannot be stored, then none is', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const bad = draft(ab, 'a', 'bad', { content: { message_elem_array: [{ elem_type: 0, n: 1n }] } })
  await t.rejects(s.messages.insert([draft(ab, 'a', 'good'), bad]))
  t.same(await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 10 }), [])
  const [next] = await s.messages.insert([draft(ab, 'a', 'after')])
  t.equal(next!.seq, 1, 'no seq was spent')
})

t.test('when a page of history is asked for, then it walks either way from an exclusive anchor, within the filters', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const all = await s.messages.insert(Array.from({ length: 7 }, (_, i) => draft(ab, 'a', `m${i}`, { serverTime: 1000 + i, elemMask: i % 2 === 0 ? 1 : 8 })))
  const q = { convKey: ab.key, viewer: 'a', limit: 3 }
  t.same(texts(await s.messages.history({ ...q, forward: false })), ['m6', 'm5', 'm4'], 'newest first')
  t.same(texts(await s.messages.history({ ...q, forward: false, after: positionOf(all[4]!) })), ['m3', 'm2', 'm1'])
  t.same(texts(await s.messages.history({ ...q, forward: true })), ['m0', 'm1', 'm2'], 'oldest first')
  t.same(texts(await s.messages.history({ ...q, forward: true, after: positionOf(all[4]!) })), ['m5', 'm6'])
  t.same(texts(await s.messages.history({ ...q, forward: true, timeFrom: 1002, timeTo: 1004 })), ['m2', 'm3'], 'time range [from, to)')
  t.same(texts(await s.messages.history({ ...q, forward: true, elemMask: 8 })), ['m1', 'm3', 'm5'], 'element types')
})

t.test('when a user deletes one message or clears the conversation, then only its own view changes', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const [m1, m2] = await s.messages.insert([draft(ab, 'a', 'one'), draft(ab, 'b', 'two')])
  await s.messages.deleteFor(ab.key, 'a', m1!.id)
  t.same(texts(await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 10 })), ['two'])
  t.same(texts(await s.messages.history({ convKey: ab.key, viewer: 'b', forward: true, limit: 10 })), ['one', 'two'])
  t.equal((await s.messages.get(ab.key, 'a', m1!.id))!.deleted, true, 'found by id, marked deleted')
  t.equal((await s.messages.findByLocators(ab.key, 'a', [{ seq: m1!.seq, rand: m1!.rand, time: m1!.serverTime }]))[0]!.deleted, true)
  await s.messages.clearFor(ab.key, 'a')
  const [m3] = await s.messages.insert([draft(ab, 'b', 'three')])
  t.same(texts(await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 10 })), ['three'], 'what came after the clear stays')
  t.equal((await s.messages.newest(ab.key, 'a'))!.id, m3!.id)
  t.equal((await s.messages.get(ab.key, 'a', m2!.id))!.deleted, true)
  t.equal((await s.messages.get(ab.key, 'b', m2!.id))!.deleted, false)
  await s.messages.clearFor(c2c('a', 'z').key, 'a')
})

t.test('when locators are looked up, then one answer each, in order, the first stored of several', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const [m1, m2] = await s.messages.insert([draft(ab, 'a', 'one'), draft(ab, 'b', 'two')])
  const saved = await s.messages.insert([0, 1].map(() => draft(ab, 'a', 'saved', { owner: 'a', origin: Origin.Saved, status: 5, serverTime: 50, rand: 9 })))
  const at = (m: typeof m1) => ({ seq: m!.seq, rand: m!.rand, time: m!.serverTime })
  const found = await s.messages.findByLocators(ab.key, 'a', [at(m2), { seq: 99, rand: 1, time: 1 }, at(m1), at(saved[1])])
  t.same(found.map(m => m?.id), [m2!.id, undefined, m1!.id, saved[0]!.id])
  t.same(await s.messages.findByLocators(ab.key, 'a', []), [])
})

t.test('when a message is revoked, then its tombstone replaces it and its references go', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const [m] = await s.messages.insert([draft(ab, 'a', 'secret', { refs: ['up_1', 'https://x/y'], elemMask: 2 })])
  t.equal((await s.messages.findByRef('up_1', 'b'))!.id, m!.id)
  await s.messages.revoke(ab.key, m!.id, { status: 6, revoker: 'a', content: { message_elem_array: [] }, elemMask: 0 })
  const tomb = (await s.messages.get(ab.key, 'b', m!.id))!
  t.equal(tomb.status, 6)
  t.equal(tomb.revoker, 'a')
  t.same(tomb.content, { message_elem_array: [] })
  t.equal(await s.messages.findByRef('up_1', 'b'), undefined)
  t.same(await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 10, elemMask: 2 }), [], 'no longer of its types')
})

t.test('when a reference is looked up, then only who may see its message finds it, the newest first', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const g = group('g1')
  await s.groups.create(g.key, { groupId: 'g1', name: 'g', owner: 'o', members: [{ userId: 'o', role: 2 }, { userId: 'm', role: 0 }] }, undefined)
  const [old] = await s.messages.insert([draft(ab, 'a', 'one', { refs: ['r'] })])
  const [newer] = await s.messages.insert([draft(ab, 'b', 'two', { refs: ['r', 'q'] })])
  const [inGroup] = await s.messages.insert([draft(g, 'o', 'three', { refs: ['gr'] })])
  const [saved] = await s.messages.insert([draft(ab, 'a', 'four', { refs: ['sv'], owner: 'a', origin: Origin.Saved, status: 5 })])
  t.equal((await s.messages.findByRef('r', 'a'))!.id, newer!.id, 'the newest carrying it')
  t.equal((await s.messages.findByRef('r', 'b'))!.id, newer!.id)
  t.equal(await s.messages.findByRef('r', 'c'), undefined, 'not a user of the thread')
  t.equal(await s.messages.findByRef('r', 'c', true), undefined, 'anyGroup is about groups')
  t.equal((await s.messages.findByRef('gr', 'm'))!.id, inGroup!.id, 'a member')
  t.equal(await s.messages.findByRef('gr', 'a'), undefined, 'not a member')
  t.equal((await s.messages.findByRef('gr', 'a', true))!.id, inGroup!.id, 'anyGroup')
  t.equal((await s.messages.findByRef('sv', 'a'))!.id, saved!.id, 'the owner of a saved one')
  t.equal(await s.messages.findByRef('sv', 'b'), undefined)
  t.ok(old)
})

t.test('when read points are reported, then they only move forward', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const ms = await s.messages.insert([draft(ab, 'a', 'one'), draft(ab, 'a', 'two')])
  t.equal(await s.messages.readPoint(ab.key, 'b'), undefined)
  await s.messages.markRead(ab.key, 'b', positionOf(ms[1]!), true)
  await s.messages.markRead(ab.key, 'b', positionOf(ms[0]!), true)
  t.same(await s.messages.readPoint(ab.key, 'b'), positionOf(ms[1]!))
  t.equal(await s.messages.readPoint(ab.key, 'a'), undefined, 'per user')
})

t.test('when messages are inserted with a reader, then each write also answers that reader\'s read point as it left it', async t => {
  const s = await openStore(t)
  const peers = Array.from({ length: 12 }, (_, i) => `p${i}`)
  // Every other peer has read the first message of its conversation.
  for (const [i, p] of peers.entries()) {
    const [first] = await s.messages.insert([draft(c2c('a', p), 'a', 'first')])
    if (i % 2 === 0) await s.messages.markRead(c2c('a', p).key, p, positionOf(first!), false)
  }
  const expected = await Promise.all(peers.map(p => s.messages.readPoint(c2c('a', p).key, p)))
  // Concurrent writes (grouped where the store groups them), one of two messages, two imports.
  const written = await Promise.all(peers.map((p, i) => s.messages.insertReading(
    i === 3 ? [draft(c2c('a', p), 'a', 'x'), draft(c2c('a', p), 'a', 'y')] : [draft(c2c('a', p), 'a', 'x', i === 5 || i === 7 ? { origin: Origin.Imported } : {})], p)))
  t.same(written.map(w => w.readPoint), expected, 'each its own reader\'s, undefined where it has none')
  t.same(written.map(w => w.stored.length), peers.map((_, i) => i === 3 ? 2 : 1))
  t.same(written.map(w => w.stored[0]!.seq), peers.map(() => 2), 'stored as insert stores them')
  t.same((await s.messages.insertReading([draft(c2c('a', 'p0'), 'a', 'one'), draft(c2c('a', 'p0'), 'a', 'two')], 'p0')).readPoint, expected[0], 'a write alone')
  t.equal((await s.messages.insertReading([draft(c2c('a', 'p0'), 'p0', 'again')], 'a')).readPoint, undefined, 'per user')
})

t.test('when ids are allocated for messages never stored, then they are unique among all ids', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const [m] = await s.messages.insert([draft(ab, 'a', 'one')])
  const ids = await Promise.all(Array.from({ length: 10 }, () => s.messages.allocateId()))
  const [n] = await s.messages.insert([draft(ab, 'a', 'two')])
  const all = [m!.id, ...ids, n!.id]
  t.equal(new Set(all).size, all.length)
  t.ok(ids.every(id => id > m!.id && id < n!.id), 'from the same sequence')
})

t.test('when concurrent writes share a commit and one of them fails, then it fails alone and the others are stored, gapless', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const writes = Array.from({ length: 30 }, (_, i) => i === 13
    ? s.messages.insert([draft(ab, 'a', 'bad', { content: { message_elem_array: [{ elem_type: 0, n: 1n }] } })])
    : s.messages.insert([draft(ab, 'a', `m${i}`)]))
  const settled = await Promise.allSettled(writes)
  t.same(settled.map(r => r.status === 'rejected'), settled.map((_, i) => i === 13), 'only the bad one failed')
  const page = await s.messages.history({ convKey: ab.key, viewer: 'a', forward: true, limit: 100 })
  t.same(page.map(m => m.seq), Array.from({ length: 29 }, (_, i) => i + 1))
})
