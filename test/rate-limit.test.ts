import t from 'tap'
import { build, text } from './helper.js'

t.test('when one identity goes over TIM_RATE_LIMIT, then 429 with Retry-After and a code, and nothing is written', async t => {
  let ms = 1_000_000
  const g = await build(t, { TIM_RATE_LIMIT: '5' }, { nowMs: () => ms })
  const send = (user: string) => g.call(user, 'POST', '/conversations/c2c_bob/messages', text('x'))
  const burst = []
  for (let i = 0; i < 10; i++) burst.push((await send('alice')).statusCode)
  t.same(burst, Array(10).fill(200), 'a burst of twice the rate')
  const over = await send('alice')
  t.equal(over.statusCode, 429)
  t.equal(over.json().code, 9506)
  t.match(over.json().desc, /5 requests per second/)
  t.equal(over.headers['retry-after'], '1')
  t.equal((await g.call('alice', 'GET', '/conversations/c2c_bob/messages?count=100')).statusCode, 429, 'reads count too')
  t.equal((await send('carol')).statusCode, 200, 'other identities have their own bucket')
  t.equal((await g.call(g.config.adminIdentifier, 'GET', '/conversations/c2c_bob/messages?count=100', undefined, { 'x-tim-on-behalf-of': 'alice' })).json().length, 10,
    'the admin is exempt, and only the 10 accepted messages were stored')
  t.equal((await g.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'public routes are not limited')
  ms += 200
  t.equal((await send('alice')).statusCode, 200, 'a token comes back after 1/rate seconds')
  t.equal((await send('alice')).statusCode, 429)
})

t.test('when TIM_RATE_LIMIT is 0, then there is no limit', async t => {
  const g = await build(t, { TIM_RATE_LIMIT: '0' }, { nowMs: () => 5 })
  for (let i = 0; i < 30; i++) {
    const res = await g.call('alice', 'GET', '/conversations/c2c_bob/messages')
    if (res.statusCode !== 200) return t.fail(`request ${i} got ${res.statusCode}`)
  }
  t.pass('30 requests at one instant')
})
