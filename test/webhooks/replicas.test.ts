import t from 'tap'
import { build, testConfig, text } from '../helper.js'
import { receiver } from '../fixtures/receiver.js'

const MESSAGES = 60

t.test('when two replicas share one PostgreSQL, then each event reaches each webhook once, in order per conversation', {
  skip: process.env.TIMGATE_TEST_PG === undefined || process.env.TIMGATE_TEST_PG === '' ? 'PostgreSQL only: SQLite serves one process' : false,
}, async t => {
  const r = await receiver(t)
  const other = await receiver(t)
  const config = testConfig(t, { TIM_WEBHOOK_ALLOWED_HOSTS: `${r.host},${other.host}` })
  const a = await build(t, {}, { config })
  const b = await build(t, {}, { config })
  await a.app.ready()
  await b.app.ready()
  // Registered through A; B learns of them from the database.
  for (const url of [r.url, other.url]) t.equal((await a.call('administrator', 'POST', '/webhooks', { url, event_types: ['message'] })).statusCode, 201)
  await b.app.webhooks.refresh()
  // Slow answers keep both replicas claiming at once.
  r.answer = async () => new Promise(resolve => setTimeout(() => resolve({ status: 200 }), 5))
  await Promise.all(Array.from({ length: MESSAGES }, (_, i) =>
    (i % 2 === 0 ? a : b).call('alice', 'POST', `/conversations/c2c_peer${i % 6}/messages`, text(`m${i}`))))
  await r.wait(MESSAGES, 20_000)
  await other.wait(MESSAGES, 20_000)
  for (let i = 0; i < 3; i++) {
    for (const g of [a, b]) {
      g.app.webhooks.deliverer.kick()
      await g.app.webhooks.deliverer.idle()
    }
  }
  const ok = async (g: typeof a) => Number(/timgate_webhook_deliveries_total\{result="ok"\} (\d+)/.exec((await g.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1])
  const [byA, byB] = [await ok(a), await ok(b)]
  t.equal(byA + byB, 2 * MESSAGES, `attempts: ${byA} by one replica, ${byB} by the other`)
  for (const [name, got] of [['first', r], ['second', other]] as const) {
    const ids = got.hits.map(h => h.json.event_id!)
    t.equal(ids.length, MESSAGES, `${name} webhook: ${ids.length} deliveries for ${MESSAGES} events`)
    t.equal(new Set(ids).size, MESSAGES, `${name} webhook: each event once`)
    for (let p = 0; p < 6; p++) {
      const order = got.hits.filter(h => h.json.event_data.message_conv_id === `peer${p}`).map(h => Number(h.json.event_id))
      t.same(order, [...order].sort((x, y) => x - y), `${name} webhook, peer${p}: in event order`)
    }
  }
})
