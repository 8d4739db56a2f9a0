import t from 'tap'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { GroupRole, Origin, type SearchEntry, type Store } from '../../db/store.js'
import { fold, keywordBloom } from '../../db/search-index.js'
import { openSqliteStore } from '../../db/sqlite/sqlite-store.js'
import { openPgStore } from '../../db/postgres/pg-store.js'
import { freshSchema, tempDir, type TestContext } from '../helper.js'
import { c2c, draft, group, openStore } from './open.js'

/** The texts of what `viewer` finds with `keyword` (the service's match: a substring of a text), sorted. */
async function find (s: Store, viewer: string, keyword: string, convKey?: string): Promise<string[]> {
  const k = fold(keyword)
  const found = await s.search.search({ viewer, blooms: [keywordBloom(k)], keywords: [k], ...(convKey !== undefined && { convKey }) },
    (e: SearchEntry) => e.texts.some(x => x.includes(k)))
  return found.map(e => e.texts.join('|')).sort()
}

/** Everything `viewer` may find, no keyword. */
const all = async (s: Store, viewer: string, convKey?: string) =>
  (await s.search.search({ viewer, ...(convKey !== undefined && { convKey }) }, () => true)).map(e => e.id).sort((a, b) => a - b)

const tips = (conv: ReturnType<typeof group>) => draft(conv, 'admin', '', {
  origin: Origin.Server, elemMask: 1 << 5, content: { message_elem_array: [{ elem_type: 5, group_tips_elem_tip_type: 1 }] },
})

t.test('when messages are stored, then 1-, 2- and 3+-character keywords find them in any script and case', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  await s.messages.insert([draft(ab, 'a', '大家你好呀'), draft(ab, 'b', 'Hello World'), draft(ab, 'a', 'x')])
  await s.messages.insert([draft(ab, 'b', 'ПРИВЕТ мир', { origin: Origin.Imported, status: 5 })])
  t.same(await find(s, 'a', '你好'), ['大家你好呀'])
  t.same(await find(s, 'a', '好'), ['大家你好呀'])
  t.same(await find(s, 'b', '大家你好呀'), ['大家你好呀'])
  t.same(await find(s, 'a', 'WORLD'), ['hello world'])
  t.same(await find(s, 'a', 'o w'), ['hello world'])
  t.same(await find(s, 'a', 'x'), ['x'], 'a one-character text')
  t.same(await find(s, 'a', 'привет'), ['привет мир'])
  t.same(await find(s, 'a', 'l'), ['hello world'])
  t.same(await find(s, 'a', '你好吗'), [])
  t.same(await find(s, 'a', 'hello', ab.key), ['hello world'], 'in one conversation')
  await s.messages.insert([draft(ab, 'a', 'party 🎉🎂 time'), draft(ab, 'a', 'lone \ud800 surrogate')])
  t.same(await find(s, 'a', '🎉🎂'), ['party 🎉🎂 time'], 'characters beyond the BMP are one character each')
  t.same(await find(s, 'a', '🎂'), ['party 🎉🎂 time'])
  t.same(await find(s, 'a', '\ud800 s'), ['lone \ud800 surrogate'], 'a lone surrogate is a character too')
  await s.messages.insert([draft(ab, 'b', 'ΑΒ\nΣ 5'), draft(ab, 'b', 'ΑΒ\tΣ')])
  t.same(await find(s, 'a', 'σ 5'), ['αβ\nσ 5'], 'Σ after an escape: σ in the text, ς in its stored JSON')
  t.same(await find(s, 'a', 'β\tσ'), ['αβ\tσ'])
})

t.test('when a message has other elements, then file names, custom and location descriptions are its text, and nothing else', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  await s.messages.insert([draft(ab, 'a', '', {
    elemMask: (1 << 3) | (1 << 4) | (1 << 7) | (1 << 1),
    content: {
      message_elem_array: [
        { elem_type: 4, file_elem_file_name: 'Report.PDF', file_elem_url: 'https://x/secret-url' },
        { elem_type: 3, custom_elem_desc: 'a card', custom_elem_data: 'hidden-data', custom_elem_ext: 'hidden-ext' },
        { elem_type: 7, location_elem_desc: '北京', location_elem_longitude: 1, location_elem_latitude: 1 },
        { elem_type: 1, image_elem_orig_url: 'https://x/image-url' },
      ],
    },
  })])
  t.same(await find(s, 'b', 'report.pdf'), ['report.pdf|a card|北京'])
  t.same(await find(s, 'b', 'card'), ['report.pdf|a card|北京'])
  t.same(await find(s, 'b', '北'), ['report.pdf|a card|北京'])
  for (const hidden of ['hidden', 'secret', 'image']) t.same(await find(s, 'b', hidden), [], `not "${hidden}"`)
})

t.test('when many messages fill many blocks, in one write or concurrently, then each is found once', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  await s.messages.insert(Array.from({ length: 40 }, (_, i) => draft(ab, 'a', `bulk ${i}`, { origin: Origin.Imported, status: 5, rand: i })))
  await Promise.all(Array.from({ length: 30 }, (_, i) => s.messages.insert([draft(ab, i % 2 === 0 ? 'a' : 'b', `one ${i}`)])))
  t.equal((await find(s, 'a', 'bulk')).length, 40)
  t.equal((await find(s, 'b', 'one')).length, 30)
  t.same(await find(s, 'a', 'bulk 17'), ['bulk 17'])
  t.equal((await all(s, 'a')).length, 70)
  t.equal(new Set(await all(s, 'a')).size, 70, 'no message twice')
})

t.test('when a block fills one message at a time, with revokes and an import that meets its twin, then every message is found once at every step', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const tomb = { status: 6, revoker: 'a', content: { message_elem_array: [] }, elemMask: 0 }
  const ids: number[] = []
  const gone = new Set<number>()
  const check = async (when: string) => {
    const found = await all(s, 'b')
    t.same(found, ids.filter(id => !gone.has(id)), when)
  }
  for (let i = 0; i < 35; i++) {
    ids.push((await s.messages.insert([draft(ab, i % 2 === 0 ? 'a' : 'b', `step ${i} Say "Hi" \\ ΟΔΟΣ`)]))[0]!.id)
    await check(`after message ${i + 1}`)
  }
  t.same(await find(s, 'a', 'step 33 say "hi" \\ οδος'), ['step 33 say "hi" \\ οδος'], 'quotes, a backslash and a final sigma in the unfinished block')
  t.same(await find(s, 'a', 'step 3 say "hi" \\ οδος'), ['step 3 say "hi" \\ οδος'], 'and in a full one')
  await s.messages.revoke(ab.key, ids[33]!, tomb)
  await s.messages.revoke(ab.key, ids[4]!, tomb)
  gone.add(ids[33]!).add(ids[4]!)
  await check('revoked in the unfinished block and in a full one')
  // An import that meets its twin gives its seq back: the next message takes it.
  const imported = (n: number) => draft(ab, 'a', `imported ${n}`, { origin: Origin.Imported, status: 5, rand: n, serverTime: 1_600_000_000 + n })
  ids.push(...(await s.messages.insert([imported(1), imported(2)])).map(m => m.id))
  await s.messages.insert([imported(2)])
  await check('an import met its twin')
  for (let i = 37; i < 50; i++) ids.push((await s.messages.insert([draft(ab, 'a', `step ${i}`)]))[0]!.id)
  await check('the block with the revoked message filled')
  t.same(await find(s, 'b', 'step 33'), [], 'the revoked text is not in the full block')
  t.same(await find(s, 'b', 'imported'), ['imported 1', 'imported 2'])
})

t.test('when a search runs, then only what the viewer sees now is found: its C2C threads, its groups, its saved messages', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const cd = c2c('c', 'd')
  const g = group('g1')
  await s.groups.create(g.key, { groupId: 'g1', name: 'G', owner: 'a', members: [{ userId: 'a', role: GroupRole.Owner }, { userId: 'c', role: GroupRole.Member }] }, tips(g))
  await s.messages.insert([draft(ab, 'a', 'secret ab'), draft(cd, 'c', 'secret cd'), draft(g, 'a', 'secret group')])
  await s.messages.insert([draft(ab, 'a', 'secret saved', { owner: 'a', origin: Origin.Saved, status: 5 })])
  await s.messages.insert([draft(cd, 'c', 'secret saved by c', { owner: 'c', origin: Origin.Saved, status: 5 })])
  t.same(await find(s, 'a', 'secret'), ['secret ab', 'secret group', 'secret saved'])
  t.same(await find(s, 'b', 'secret'), ['secret ab'], 'not the peer\'s saved message, no group')
  t.same(await find(s, 'c', 'secret'), ['secret cd', 'secret group', 'secret saved by c'])
  t.same(await find(s, 'd', 'secret'), ['secret cd'])
  t.same(await find(s, 'e', 'secret'), [], 'a stranger finds nothing')
  t.same(await find(s, 'b', 'secret', g.key), ['secret group'], 'one conversation is searched as asked: access is the service\'s (as for history)')
  t.same(await find(s, 'a', 'secret', ab.key), ['secret ab', 'secret saved'])
  t.same(await find(s, 'b', 'secret', ab.key), ['secret ab'])

  await s.groups.change(g.key, { userId: 'c', role: null }, tips(g))
  t.same(await find(s, 'c', 'secret'), ['secret cd', 'secret saved by c'], 'a member who left no longer finds the group\'s messages')
  await s.groups.change(g.key, { userId: 'e', role: GroupRole.Member }, tips(g))
  t.same(await find(s, 'e', 'secret'), ['secret group'], 'a new member finds the group\'s history')
})

t.test('when saved and shared messages are stored in one write, then each is in its own blocks', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  await s.messages.insert([
    draft(ab, 'a', 'mixed shared'),
    ...Array.from({ length: 18 }, (_, i) => draft(ab, 'b', `mixed saved ${i}`, { owner: 'b', origin: Origin.Saved, status: 5 })),
    draft(ab, 'b', 'mixed saved by a', { owner: 'a', origin: Origin.Saved, status: 5 }),
  ])
  t.equal((await find(s, 'b', 'mixed')).length, 19, 'b: the shared one and its 18 saved ones')
  t.same(await find(s, 'a', 'mixed'), ['mixed saved by a', 'mixed shared'])
  await s.messages.insert([draft(ab, 'b', 'mixed saved again', { owner: 'b', origin: Origin.Saved, status: 5 })])
  t.equal((await find(s, 'b', 'mixed')).length, 20)
})

t.test('when a message is revoked, then its text is out of the index and the rest of its block still found', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const stored = await s.messages.insert(Array.from({ length: 5 }, (_, i) => draft(ab, 'a', `keep ${i} 秘密${i}`)))
  const [saved] = await s.messages.insert([draft(ab, 'a', 'saved 秘密', { owner: 'a', origin: Origin.Saved, status: 5 })])
  const tomb = { status: 6, revoker: 'a', content: { message_elem_array: [] }, elemMask: 0 }
  await s.messages.revoke(ab.key, stored[2]!.id, tomb)
  await s.messages.revoke(ab.key, saved!.id, tomb)
  t.same(await find(s, 'a', '秘密'), ['keep 0 秘密0', 'keep 1 秘密1', 'keep 3 秘密3', 'keep 4 秘密4'])
  t.same(await find(s, 'a', '秘密2'), [])
  t.notOk((await all(s, 'a')).includes(stored[2]!.id), 'the tombstone is not an entry either')
  await s.messages.revoke(ab.key, stored[2]!.id, tomb)
  t.equal((await all(s, 'b')).length, 4, 'revoking again changes nothing')
  for (const m of [stored[0]!, stored[1]!, stored[3]!, stored[4]!]) await s.messages.revoke(ab.key, m.id, tomb)
  t.same(await all(s, 'a'), [], 'an emptied block goes')
  const [next] = await s.messages.insert([draft(ab, 'a', 'after 秘密')])
  t.same(await find(s, 'a', '秘密'), ['after 秘密'], 'and the next message starts it again')
  t.ok(next)
})

t.test('when the viewer deleted a message or cleared the conversation, then it does not find them; the peer does', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const [one, two] = await s.messages.insert([draft(ab, 'a', 'word one'), draft(ab, 'a', 'word two')])
  await s.messages.deleteFor(ab.key, 'b', one!.id)
  t.same(await find(s, 'b', 'word'), ['word two'])
  t.same(await find(s, 'a', 'word'), ['word one', 'word two'])
  await s.messages.clearFor(ab.key, 'b')
  t.same(await find(s, 'b', 'word'), [])
  await s.messages.insert([draft(ab, 'a', 'word three')])
  t.same(await find(s, 'b', 'word'), ['word three'], 'a clear covers what was there')
  t.ok(two)
})

/** Opens the suite's store, stores `fill`, then takes the index away as if 012 had not run, and opens it again. */
async function reopenedBefore012 (t: TestContext, fill: (s: Store) => Promise<void>): Promise<Store> {
  const base = process.env.TIMGATE_TEST_PG
  const undo = 'DROP TABLE search_blocks; DROP TABLE search_saved; DROP INDEX conversations_user_a; DROP INDEX conversations_user_b; ' +
    'DROP INDEX group_members_user; DELETE FROM schema_migrations WHERE version = 12'
  if (base !== undefined && base !== '') {
    const url = freshSchema(t, base)
    const first = await openPgStore(url)
    await fill(first)
    await first.close()
    const schema = new URL(url).searchParams.get('schema')!
    const client = new pg.Client({ connectionString: base })
    await client.connect()
    await client.query(`SET search_path = ${schema}`)
    await client.query(undo)
    await client.end()
    const again = await openPgStore(url)
    t.teardown(() => again.close())
    return again
  }
  const file = join(tempDir(t), 'timgate.db')
  const first = openSqliteStore(file)
  await fill(first)
  await first.close()
  const db = new Database(file)
  // And 014, which moved the unfinished blocks out of search_blocks: it runs again after 012.
  db.exec(`${undo}; ALTER TABLE conversations DROP COLUMN search_tail; ALTER TABLE conversations DROP COLUMN search_tail_block;
    DELETE FROM schema_migrations WHERE version = 14`)
  db.close()
  const again = openSqliteStore(file)
  t.teardown(() => again.close())
  return again
}

t.test('when a store from before the index opens, then migration 012 indexes its history, revoked messages left out', async t => {
  const ab = c2c('a', 'b')
  const g = group('g1')
  const s = await reopenedBefore012(t, async s => {
    await s.groups.create(g.key, { groupId: 'g1', name: 'G', owner: 'a', members: [{ userId: 'a', role: GroupRole.Owner }] }, undefined)
    const stored = await s.messages.insert(Array.from({ length: 20 }, (_, i) => draft(ab, 'a', `old ${i}`)))
    await s.messages.insert([draft(ab, 'a', 'old saved', { owner: 'b', origin: Origin.Saved, status: 5 }), draft(g, 'a', 'old group')])
    await s.messages.revoke(ab.key, stored[3]!.id, { status: 6, revoker: 'a', content: { message_elem_array: [] }, elemMask: 0 })
  })
  t.equal((await find(s, 'a', 'old')).length, 20, '19 C2C and the group\'s')
  t.same(await find(s, 'b', 'old saved'), ['old saved'])
  t.same(await find(s, 'a', 'old 3'), [], 'the revoked one is not indexed')
  await s.messages.insert([draft(ab, 'b', 'old new')])
  t.equal((await find(s, 'b', 'old')).length, 21, 'and new messages join the migrated blocks')
})
