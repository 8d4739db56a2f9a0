import t from 'tap'
import { build } from '../helper.js'
import { receiver } from '../fixtures/receiver.js'

const ADMIN = 'administrator'

t.test('when anyone but the admin manages webhooks, then 403', async t => {
  const g = await build(t)
  for (const [method, url] of [['POST', '/webhooks'], ['GET', '/webhooks'], ['GET', '/webhooks/wh_x'], ['DELETE', '/webhooks/wh_x']] as const) {
    const res = await g.call('alice', method, url, method === 'POST' ? { url: 'https://example.com/' } : undefined)
    t.equal(res.statusCode, 403, `${method} ${url}`)
    t.equal(res.json<{ code: number }>().code, 10007)
  }
})

t.test('when a URL is not one the guard allows, then 400 naming why, and nothing is registered', async t => {
  const g = await build(t, { TIM_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com,127.0.0.1:9' })
  const cases: Array<[string, RegExp]> = [
    ['ftp://hooks.example.com/x', /scheme "ftp:" is not allowed/],
    ['not a url', /is not an absolute URL/],
    ['https://other.example.com/x', /other\.example\.com is not in TIM_WEBHOOK_ALLOWED_HOSTS/],
    ['http://127.0.0.1:8080/x', /127\.0\.0\.1:8080 is a loopback address/],
    ['http://169.254.169.254/latest', /cloud metadata/],
    ['https://hooks.example.com:8443/x', /not in TIM_WEBHOOK_ALLOWED_HOSTS/],
  ]
  for (const [url, why] of cases) {
    const res = await g.call(ADMIN, 'POST', '/webhooks', { url })
    t.equal(res.statusCode, 400, url)
    t.match(res.json(), { code: 6017, desc: why }, url)
  }
  t.equal((await g.call(ADMIN, 'POST', '/webhooks', { url: 'https://hooks.example.com/in' })).statusCode, 201, 'an allowed host')
  t.equal((await g.call(ADMIN, 'POST', '/webhooks', { url: 'http://127.0.0.1:9/in' })).statusCode, 201, 'a literal loopback IP named in the list')
  t.equal((await g.call(ADMIN, 'GET', '/webhooks')).json<unknown[]>().length, 2)
})

t.test('when event types or a secret are wrong, then 400 with 6017', async t => {
  const r = await receiver(t)
  const g = await build(t, { TIM_WEBHOOK_ALLOWED_HOSTS: r.host })
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ url: r.url, event_types: [] }, /at least one/],
    [{ url: r.url, event_types: ['message', 'nope'] }, /event_types/],
    [{ url: r.url, event_types: ['message', 'before_send'] }, /before_send stands alone/],
    [{ url: r.url, secret: 'abc' }, /whsec_/],
    [{ url: r.url, secret: 'whsec_!!!!' }, /standard base64/],
    [{ url: r.url, secret: `whsec_${Buffer.alloc(8).toString('base64')}` }, /16-64 bytes, got 8/],
    [{ url: r.url, extra: 1, event_types: 'message' }, /event_types/],
  ]
  for (const [body, why] of bad) {
    const res = await g.call(ADMIN, 'POST', '/webhooks', body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.match(res.json(), { code: 6017, desc: why })
  }
})

t.test('when webhooks are listed and fetched, then each shows its types, counts and times, never its secret', async t => {
  const r = await receiver(t)
  const g = await build(t, { TIM_WEBHOOK_ALLOWED_HOSTS: r.host })
  const a = (await g.call(ADMIN, 'POST', '/webhooks', { url: r.url, event_types: ['read_receipt'] })).json<{ id: string }>()
  const b = (await g.call(ADMIN, 'POST', '/webhooks', { url: `${r.url}?b=1`, event_types: ['before_send'] })).json<{ id: string }>()
  const list = (await g.call(ADMIN, 'GET', '/webhooks')).json<Array<Record<string, unknown>>>()
  t.same(list.map(h => h.id).sort(), [a.id, b.id].sort())
  t.match(list.find(h => h.id === b.id), { url: `${r.url}?b=1`, event_types: ['before_send'], pending: 0, last_success_at: null, last_error: null, last_error_at: null, created_at: Number })
  t.notOk(list.some(h => 'secret' in h))
  t.same((await g.call(ADMIN, 'GET', `/webhooks/${a.id}`)).json<{ event_types: string[] }>().event_types, ['read_receipt'])
  t.match((await g.call(ADMIN, 'GET', '/webhooks/wh_nope')).json(), { code: 6021 })

  const second = await g.call(ADMIN, 'POST', '/webhooks', { url: r.url, event_types: ['before_send'] })
  t.equal(second.statusCode, 409, 'a second before-send hook')
  t.match(second.json(), { code: 6017, desc: new RegExp(b.id) })
  t.equal((await g.call(ADMIN, 'DELETE', `/webhooks/${b.id}`)).statusCode, 204)
  t.equal((await g.call(ADMIN, 'POST', '/webhooks', { url: r.url, event_types: ['before_send'] })).statusCode, 201, 'once the first is gone')
})
