import t from 'tap'
import { openStore } from './open.js'

const k = { owner: 'alice\nalice', key: 'k1' }
const bounds = (now: number) => ({ expiredBefore: now - 86400, staleBefore: now - 60 })

t.test('when a key is taken, then the next take sees it pending, then done with its response', async t => {
  const s = await openStore(t)
  t.equal(await s.idempotency.take(k, 'h1', 1000, bounds(1000)), null, 'taken')
  t.same(await s.idempotency.take(k, 'h1', 1001, bounds(1001)), { requestHash: 'h1', createdAt: 1000, status: null, body: null }, 'pending')
  t.same(await s.idempotency.take(k, 'h2', 1001, bounds(1001)), { requestHash: 'h1', createdAt: 1000, status: null, body: null }, 'another request sees the same')
  await s.idempotency.complete(k, 200, '{"a":1}', [])
  t.same(await s.idempotency.take(k, 'h1', 1002, bounds(1002)), { requestHash: 'h1', createdAt: 1000, status: 200, body: '{"a":1}' })
  t.equal(await s.idempotency.take({ ...k, owner: 'bob\nbob' }, 'h1', 1002, bounds(1002)), null, 'keys are per owner')
})

t.test('when a pending key is stale, then the same request takes it over, another does not', async t => {
  const s = await openStore(t)
  await s.idempotency.take(k, 'h1', 1000, bounds(1000))
  t.same((await s.idempotency.take(k, 'h2', 1061, bounds(1061)))!.requestHash, 'h1', 'another request')
  t.equal(await s.idempotency.take(k, 'h1', 1061, bounds(1061)), null, 'the same request')
  t.same((await s.idempotency.take(k, 'h1', 1062, bounds(1062)))!.createdAt, 1061, 'taken over at its time')
})

t.test('when a key has expired, then any request takes it afresh; a sweep forgets old keys', async t => {
  const s = await openStore(t)
  await s.idempotency.take(k, 'h1', 1000, bounds(1000))
  await s.idempotency.complete(k, 200, 'x', ['m1'])
  t.equal(await s.idempotency.take(k, 'h2', 1000 + 86401, bounds(1000 + 86401)), null)
  t.same(await s.idempotency.carrying('m1'), [], 'its message references went with it')
  await s.idempotency.take({ ...k, key: 'k2' }, 'h', 1000, bounds(1000))
  t.equal(await s.idempotency.sweep(1001), 1, 'k2 is swept, k (retaken) stays')
  t.ok(await s.idempotency.take(k, 'h2', 1000 + 86402, bounds(1000 + 86402)))
})

t.test('when a released key comes again, then it is taken afresh', async t => {
  const s = await openStore(t)
  await s.idempotency.take(k, 'h1', 1000, bounds(1000))
  await s.idempotency.release(k)
  t.equal(await s.idempotency.take(k, 'h2', 1001, bounds(1001)), null)
})

t.test('when responses carrying a message are rewritten, then only where they are as read', async t => {
  const s = await openStore(t)
  const k2 = { ...k, key: 'k2' }
  for (const [ref, body] of [[k, 'one m1 m2'], [k2, 'two m1']] as const) {
    await s.idempotency.take(ref, 'h', 1000, bounds(1000))
    await s.idempotency.complete(ref, 200, body, body.split(' ').slice(1))
  }
  const carrying = await s.idempotency.carrying('m1')
  t.same(carrying.map(r => r.body).sort(), ['one m1 m2', 'two m1'])
  t.same(await s.idempotency.carrying('m2'), [{ ...k, body: 'one m1 m2' }])
  const lost = await s.idempotency.rewrite([
    { ...k, was: 'one m1 m2', body: 'one X m2' },
    { ...k2, was: 'stale', body: 'two X' },
  ])
  t.same(lost, [k2], 'the one that had changed is answered')
  t.same((await s.idempotency.carrying('m2'))[0]!.body, 'one X m2')
  t.same((await s.idempotency.take(k2, 'h', 1001, bounds(1001)))!.body, 'two m1', 'not rewritten')
  t.same(await s.idempotency.rewrite([]), [])
})
