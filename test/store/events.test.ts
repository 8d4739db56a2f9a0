import t from 'tap'
import pg from 'pg'
import { setTimeout as sleep } from 'node:timers/promises'
import { EventType, GroupRole, Origin, positionOf, type EventStore, type LoggedEvent, type Store } from '../../db/store.js'
import { openPgStore } from '../../db/postgres/pg-store.js'
import { freshSchema } from '../helper.js'
import { within } from '../fixtures/raw-http.js'
import { c2c, draft, group, openStore } from './open.js'

/** Every event after `after` once `count` are readable (on PostgreSQL, once numbered). */
async function readAll (events: EventStore, count: number, after = 0, read = (a: number) => events.read(a, 1000)): Promise<LoggedEvent[]> {
  for (let i = 0; i < 500; i++) {
    const got = await read(after)
    if (got.length >= count) return got
    await sleep(10)
  }
  return read(after)
}
const kinds = (es: LoggedEvent[]) => es.filter(e => e.type !== EventType.Membership).map(e => [e.type, e.actor])

t.test('when messages are sent, revoked and read, then each change is one event, in order; imports and saves are none', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const [m1, m2] = await s.messages.insert([draft(ab, 'a', 'one'), draft(ab, 'b', 'two')])
  await s.messages.insert([draft(ab, 'a', 'old', { origin: Origin.Imported, event: false }), draft(ab, 'a', 'mine', { owner: 'a', origin: Origin.Saved, event: false })])
  await s.messages.revoke(ab.key, m1!.id, { status: 6, revoker: 'a', content: { message_elem_array: [] }, elemMask: 0 })
  await s.messages.markRead(ab.key, 'b', positionOf(m2!), true)
  await s.messages.markRead(ab.key, 'b', positionOf(m1!), true)
  await s.messages.markRead(ab.key, 'a', positionOf(m2!), false)
  const all = await readAll(s.events, 4)
  t.same(kinds(all), [[EventType.Message, null], [EventType.Message, null], [EventType.Revoke, 'a'], [EventType.ReadReceipt, 'b']],
    'a read point that does not move, or without receipt, makes none')
  t.same(all.map(e => e.messageId), [m1!.id, m2!.id, m1!.id, m2!.id])
  t.same(all[0]!.users, ['a', 'b'])
  t.ok(all.every((e, i) => i === 0 || e.pos > all[i - 1]!.pos), 'positions increase')
  t.same((await s.events.read(all[1]!.pos, 10)).map(e => e.pos), all.slice(2).map(e => e.pos), 'read after a position')
  const b = await s.events.bounds()
  t.equal(b.newest, all.at(-1)!.pos)
  t.ok(b.oldest !== undefined && b.oldest <= all[0]!.pos)
})

t.test('when a user reads its own events, then it gets its C2C threads and its groups while it was a member, kick and invite included', async t => {
  const s = await openStore(t)
  const g = group('g1')
  const tips = (text: string) => draft(g, 'o', text, { origin: Origin.Server })
  await s.groups.create(g.key, { groupId: 'g1', name: 'g', owner: 'o', members: [{ userId: 'o', role: GroupRole.Owner }] }, tips('created'))
  await s.messages.insert([draft(g, 'o', 'before m joined')])
  await s.groups.change(g.key, { userId: 'm', role: GroupRole.Member }, tips('invite m'))
  await s.messages.insert([draft(g, 'o', 'while m is in')])
  await s.groups.change(g.key, { userId: 'm', role: GroupRole.Admin }, tips('m is admin'))
  await s.groups.change(g.key, { userId: 'm', role: null }, tips('kick m'))
  await s.messages.insert([draft(g, 'o', 'after m left'), draft(c2c('m', 'x'), 'x', 'to m')])
  // 12: every message and the membership events (o founding, m joining, made admin, leaving).
  const all = await readAll(s.events, 12)
  const texts = async (user: string) => {
    const mine = await readAll(s.events, 0, 0, a => s.events.readFor(user, a, 100))
    const byId = new Map<number, string>()
    for (const e of mine) {
      const m = await s.messages.get(e.convKey, user, e.messageId!)
      byId.set(e.pos, String(m?.content.message_elem_array[0]?.text_elem_content))
    }
    return mine.map(e => byId.get(e.pos))
  }
  t.same(await texts('m'), ['invite m', 'while m is in', 'm is admin', 'kick m', 'to m'])
  t.same(await texts('o'), ['created', 'before m joined', 'invite m', 'while m is in', 'm is admin', 'kick m', 'after m left'])
  t.same(await texts('z'), [])
  const inviteAt = all.find(e => e.type === EventType.Message && e.pos > all[2]!.pos)!.pos
  t.same((await s.events.membersAt(g.key, inviteAt)).sort(), ['m', 'o'])
  t.same(await s.events.membersAt(g.key, all.at(-1)!.pos), ['o'])
})

t.test('when old events are swept, then they go, the newest position stays, and later positions are higher', async t => {
  let clock = 1_000
  const s = await openStore(t, () => clock)
  const ab = c2c('a', 'b')
  await s.messages.insert([draft(ab, 'a', 'old', { serverTime: 1_000 })])
  const old = await readAll(s.events, 1)
  clock = 5_000
  await s.messages.insert([draft(ab, 'a', 'new', { serverTime: 5_000 })])
  const both = await readAll(s.events, 2)
  t.equal(await s.events.sweep(2_000), 1)
  t.same((await s.events.read(0, 10)).map(e => e.pos), [both[1]!.pos])
  t.same(await s.events.bounds(), { oldest: both[1]!.pos, newest: both[1]!.pos })
  t.equal(await s.events.sweep(10_000), 1)
  t.same(await s.events.bounds(), { oldest: undefined, newest: both[1]!.pos }, 'the newest position does not go back')
  await s.messages.insert([draft(ab, 'a', 'later', { serverTime: 6_000 })])
  const later = await readAll(s.events, 1, both[1]!.pos)
  t.ok(later[0]!.pos > both[1]!.pos)
  t.ok(old[0]!.pos < later[0]!.pos)
})

t.test('when events commit, then subscribers hear of it', async t => {
  const s = await openStore(t)
  let heard = 0
  const unsubscribe = s.events.subscribe(() => { heard++ })
  await s.messages.insert([draft(c2c('a', 'b'), 'a', 'x')])
  await readAll(s.events, 1)
  for (let i = 0; i < 200 && heard === 0; i++) await sleep(10)
  t.ok(heard > 0)
  unsubscribe()
})

/** Many concurrent writers on `writers` (replicas of one database), and a reader resuming from each position it saw. */
async function resumingReader (t: { equal: (a: unknown, b: unknown, m: string) => void, ok: (v: unknown, m: string) => void }, writers: Store[], reader: Store) {
  const sent = 200
  const seen: number[] = []
  let done = false
  const reading = (async () => {
    let after = 0
    while (!done || seen.length < sent) {
      const got = await reader.events.read(after, 50)
      for (const e of got) {
        if (e.type !== EventType.Message) continue
        seen.push(e.pos)
      }
      if (got.length > 0) after = got.at(-1)!.pos
      else await sleep(2)
    }
  })()
  await Promise.all(Array.from({ length: sent }, (_, i) => writers[i % writers.length]!.messages.insert([draft(c2c('u', `p${i % 7}`), 'u', `m${i}`)])))
  done = true
  await within(reading, 30_000, undefined)
  t.equal(seen.length, sent, 'the reader saw every event')
  t.equal(new Set(seen).size, sent, 'once each')
  t.ok(seen.every((p, i) => i === 0 || p > seen[i - 1]!), 'in increasing positions')
}

t.test('when many writers commit concurrently, then a reader that keeps resuming after the last position it saw misses none', async t => {
  const s = await openStore(t)
  await resumingReader(t, [s], s)
})

t.test('when two replicas write concurrently, then a reader on a third connection misses none', {
  skip: process.env.TIMGATE_TEST_PG === undefined || process.env.TIMGATE_TEST_PG === '' ? 'PostgreSQL only: SQLite has one process' : false,
}, async t => {
  const url = freshSchema(t, process.env.TIMGATE_TEST_PG!)
  const stores = [await openPgStore(url), await openPgStore(url), await openPgStore(url)]
  t.teardown(() => Promise.all(stores.map(s => s.close())))
  await resumingReader(t, stores.slice(0, 2), stores[2]!)
})

t.test('when a write transaction elsewhere in the cluster stays open, then events still become readable', {
  skip: process.env.TIMGATE_TEST_PG === undefined || process.env.TIMGATE_TEST_PG === '' ? 'PostgreSQL only: numbering is PostgreSQL\'s' : false,
}, async t => {
  const s = await openStore(t)
  // A transaction with an id that stays open (a migration, a batch job, a stuck client).
  const other = new pg.Client({ connectionString: process.env.TIMGATE_TEST_PG })
  await other.connect()
  t.teardown(() => other.end())
  await other.query('BEGIN')
  await other.query('SELECT pg_current_xact_id()')
  const before = (await s.events.bounds()).newest
  await s.messages.insert([draft(c2c('a', 'b'), 'a', 'while another waits')])
  const got = await readAll(s.events, 1, before)
  t.equal(got.length, 1, 'numbered without waiting for the open transaction')
  await other.query('ROLLBACK')
})
