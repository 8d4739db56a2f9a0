import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { EventType, QUEUED, type LoggedEvent, type Store, type Webhook } from '../../db/store.js'
import { c2c, draft, group, openStore } from './open.js'

const ALL = (1 << EventType.Message) | (1 << EventType.Revoke) | (1 << EventType.ReadReceipt)
const hook = (id: string, extra: Partial<Webhook> = {}): Webhook => ({ id, url: `https://h.example.com/${id}`, types: ALL, beforeSend: false, secret: 'whsec_x', createdAt: 1, ...extra })

/** Every event after `after`, once `count` are readable (PostgreSQL numbers them soon after the commit). */
async function events (s: Store, count: number, after = 0): Promise<LoggedEvent[]> {
  for (let i = 0; i < 500; i++) {
    await s.events.settle()
    const got = await s.events.read(after, 1000)
    if (got.length >= count) return got
    await sleep(10)
  }
  return s.events.read(after, 1000)
}

t.test('when events are fed twice and by pages, then each webhook owes each event of its types once, queued per conversation', async t => {
  const s = await openStore(t)
  t.equal(await s.webhooks.cursor(), undefined, 'no webhook follows the log')
  t.ok(await s.webhooks.create(hook('all'), 0))
  t.ok(await s.webhooks.create(hook('revokes', { types: 1 << EventType.Revoke }), 0))
  t.ok(await s.webhooks.create(hook('bs', { beforeSend: true, types: 0 }), 0))
  t.notOk(await s.webhooks.create(hook('bs2', { beforeSend: true, types: 0 }), 0), 'one before-send hook')
  const ab = c2c('a', 'b')
  const [m1, m2] = await s.messages.insert([draft(ab, 'a', 'one'), draft(ab, 'a', 'two')])
  await s.messages.insert([draft(c2c('a', 'c'), 'a', 'three')])
  await s.messages.revoke(ab.key, m1!.id, { status: 6, revoker: 'a', content: { message_elem_array: [] }, elemMask: 0 })
  const page = await events(s, 4)
  await s.webhooks.feed(page.slice(0, 2), 1000)
  await s.webhooks.feed(page, 1000)
  await s.webhooks.feed(page, 1000)
  t.equal(await s.webhooks.cursor(), page.at(-1)!.pos, 'the cursors moved to the end')
  t.match(await s.webhooks.get('all'), { pending: 4, lastSuccessAt: null })
  t.match(await s.webhooks.get('revokes'), { pending: 1 })
  t.match(await s.webhooks.backlog(), { pending: 5, oldestAt: Number })

  // Of a→b only the oldest is due; a→c's one is too.
  const first = await s.webhooks.claim('all', 10, 1000, 5000)
  t.same(first.map(d => [d.event.messageId, d.event.type]), [[m1!.id, EventType.Message], [first[1]!.event.messageId, EventType.Message]])
  t.same(first[0]!.event.users, ['a', 'b'])
  t.same(await s.webhooks.claim('all', 10, 1000, 5000), [], 'leased: no second claim')
  t.equal((await s.webhooks.claim('all', 10, 6000, 100_000)).length, 2, 'a lease that ran out is claimed again')
  await s.webhooks.settle([{ webhookId: 'all', pos: first[0]!.event.pos, convKey: ab.key, result: 'done', at: 7 }], 10_000)
  const next = await s.webhooks.claim('all', 10, 10_000, 12_000)
  t.same(next.map(d => d.event.messageId), [m2!.id], 'the next of its conversation became due')
  t.match(await s.webhooks.get('all'), { pending: 3, lastSuccessAt: 7 })

  // A retry waits for its time, and holds its conversation's queue.
  await s.webhooks.settle([{ webhookId: 'all', pos: next[0]!.event.pos, convKey: ab.key, result: 'retry', at: 8, dueAt: 20_000, failingSince: 10_000, error: 'boom' }], 10_000)
  t.same(await s.webhooks.claim('all', 10, 13_000, 14_000), [])
  t.match(await s.webhooks.get('all'), { lastError: 'boom', lastErrorAt: 8 })
  const retried = await s.webhooks.claim('all', 10, 20_000, 21_000)
  t.match(retried, [{ attempts: 1, failingSince: 10_000 }])
  await s.webhooks.settle([{ webhookId: 'all', pos: retried[0]!.event.pos, convKey: ab.key, result: 'drop', at: 9, error: 'dropped' }], 20_000)
  const revoke = await s.webhooks.claim('all', 10, 20_000, 21_000)
  t.same(revoke.map(d => d.event.type), [EventType.Revoke], 'a drop lets the next go too')

  t.ok(await s.webhooks.delete('all'))
  t.notOk(await s.webhooks.delete('all'))
  t.equal(await s.webhooks.get('all'), undefined)
  t.same((await s.webhooks.list()).map(h => h.id).sort(), ['bs', 'revokes'])
  t.same((await s.webhooks.hooks()).map(h => [h.id, h.beforeSend]).sort(), [['bs', true], ['revokes', false]])
  t.match(await s.webhooks.backlog(), { pending: 1 })
})

t.test('when a process starts again, then what it owed is due now; membership events are never owed', async t => {
  const s = await openStore(t)
  await s.webhooks.create(hook('w'), 0)
  const g = group('g1')
  await s.groups.create(g.key, { groupId: 'g1', name: 'g1', owner: 'a', members: [{ userId: 'a', role: 2 }] }, draft(g, 'a', 'tips'))
  const page = await events(s, 2)
  t.ok(page.some(e => e.type === EventType.Membership))
  await s.webhooks.feed(page, 0)
  t.match(await s.webhooks.get('w'), { pending: 1 })
  const [d] = await s.webhooks.claim('w', 10, 0, 1000)
  t.equal(d!.event.users, null, 'a group has no users')
  await s.webhooks.settle([{ webhookId: 'w', pos: d!.event.pos, convKey: g.key, result: 'retry', at: 1, dueAt: 3_600_000, failingSince: 0, error: 'x' }], 0)
  await s.webhooks.wake(5000, false)
  t.equal((await s.webhooks.claim('w', 10, 5000, QUEUED - 1)).length, 1, 'due at the wake')
  await s.webhooks.wake(6000, s.kind === 'sqlite')
  t.equal((await s.webhooks.claim('w', 10, 6000, 7000)).length, s.kind === 'sqlite' ? 1 : 0, 'SQLite (one process) forgets leases; PostgreSQL waits for them')
})

t.test('when old events are swept, then those a webhook has not been fed stay', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  await s.messages.insert([draft(ab, 'a', 'one'), draft(ab, 'a', 'two')])
  const page = await events(s, 2)
  await s.webhooks.create(hook('w'), 0)
  const future = Math.floor(Date.now() / 1000) + 10 * 365 * 86400
  t.equal(await s.events.sweep(future), 0, 'nothing fed: nothing swept')
  await s.webhooks.feed(page.slice(0, 1), 0)
  t.equal(await s.events.sweep(future), 1, 'the fed one goes')
  await s.webhooks.delete('w')
  t.equal(await s.events.sweep(future), 1, 'with no webhook, retention alone decides')
})
