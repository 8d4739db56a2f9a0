// The conversation list (CONTRACT §9), on a gateway of its own:
//   conversations-large   GET /conversations?count=20 of a user with BENCH_CONV_LIST (10,000)
//                         conversations, against
//   conversations-small   the same for a user with 100, and
//   conversations-history a page of 20 of history (GET …/messages?count=20) of the large user.
//                         Targets: the large list's time per page ≤ 1.5× the small one's, and
//                         ≤ 3× a history page's.
//   conversations-c2c     C2C sends (to 1000 peers), against
//   conversations-group   sends into a group of 1000 members. Target: ≥ 0.5× the C2C sends.
// Each list holds groups too (the large user is in 20, the small one in 2) and unread
// messages, so that a page computes counts and last messages. (send-c2c holds C2C sends to
// ≥ 1.0× the naive INSERT route with this bookkeeping.)
import { medianRun } from '../lib/measure.mjs'
import { batchBody, PEERS, SEND_BODY, sendPlan, SENDER, users } from './common.mjs'

const SMALL = 'lister'
const PAGE_RATIO = 1.5
const HISTORY_RATIO = 3
const GROUP_RATIO = 0.5
const MEMBERS = users('gm', 1000, 4)

const scenario = {
  name: 'conversations',
  groups: ['conversations'],
  servers: [],
  async run (ctx) {
    const gateway = await ctx.startGateway('conversations-gateway', { env: { TIM_RATE_LIMIT: '0' } })
    const as = (user) => ({ authorization: `Bearer ${ctx.sign(user)}`, 'content-type': 'application/json' })
    const started = Date.now()
    // The large user sends to each of its peers (batches of 500), and a few of them answer.
    const large = users('cv', ctx.knobs.convListSize, 5)
    for (let i = 0; i < large.length; i += 500) await ctx.call(gateway, 'POST', '/messages/batch', batchBody(large.slice(i, i + 500)))
    await ctx.mapLimit(large.filter((_, i) => i % 50 === 0), 8, (peer) => ctx.call(gateway, 'POST', `/conversations/c2c_${SENDER}/messages`, SEND_BODY, { headers: as(peer) }))
    const small = users('sv', 100, 3)
    await ctx.call(gateway, 'POST', '/messages/batch', batchBody(small), { headers: as(SMALL) })
    await ctx.mapLimit(small.filter((_, i) => i % 10 === 0), 8, (peer) => ctx.call(gateway, 'POST', `/conversations/c2c_${SMALL}/messages`, SEND_BODY, { headers: as(peer) }))
    for (let i = 0; i < 20; i++) {
      const members = i < 2 ? [SENDER, SMALL] : [SENDER]
      await ctx.call(gateway, 'POST', '/groups', JSON.stringify({ group_id: `cg${i}`, group_member_array: members }), { expect: 201, headers: as('owner') })
      await ctx.call(gateway, 'POST', `/conversations/group_cg${i}/messages`, SEND_BODY, { headers: as('owner') })
    }
    // A history of 40 messages for the history page.
    for (let i = 0; i < 40; i++) await ctx.call(gateway, 'POST', `/conversations/c2c_${large[0]}/messages`, SEND_BODY)
    await ctx.call(gateway, 'POST', '/groups', JSON.stringify({ group_id: 'big', group_member_array: MEMBERS }), { expect: 201 })
    ctx.log(`  seeded ${large.length} + ${small.length} conversations, 20 groups and a group of ${MEMBERS.length} in ${((Date.now() - started) / 1000).toFixed(1)} s`)

    const first = await ctx.call(gateway, 'GET', '/conversations?count=20', undefined, { headers: as(SENDER) })
    if (first.conversations.length !== 20 || first.next_cursor === null) throw new Error(`the large list's first page is not 20 with more to come: ${JSON.stringify(first).slice(0, 200)}`)

    const list = (user) => ({ method: 'GET', headers: { authorization: `Bearer ${ctx.sign(user)}` }, items: [{ path: '/conversations?count=20' }] })
    const connections = ctx.knobs.connections
    // The pages' ratios compare runs made one after the other on a shared machine: with
    // BENCH_ROUNDS > 1 the three pages take turns (in reverse every other round), medians count.
    const pages = [
      ['large', 'conversations-large', list(SENDER)],
      ['small', 'conversations-small', list(SMALL)],
      ['history', 'conversations-history', { method: 'GET', items: [{ path: `/conversations/c2c_${large[0]}/messages?count=20` }] }],
    ]
    const runs = { large: [], small: [], history: [] }
    const rounds = ctx.knobs.rounds
    for (let round = 1; round <= rounds; round++) {
      for (const [key, label, plan] of round % 2 === 1 ? pages : [...pages].reverse()) {
        runs[key].push(await ctx.measure(label, gateway, plan, { connections, ...(rounds > 1 && { round }) }))
      }
    }
    runs.c2c = await ctx.measure('conversations-c2c', gateway, sendPlan(PEERS), { connections })
    runs.group = await ctx.measure('conversations-group', gateway, { method: 'POST', items: [{ path: '/conversations/group_big/messages', body: SEND_BODY }] }, { connections })
    const [l, s, h, c, g] = ['large', 'small', 'history', 'c2c', 'group'].map(k => medianRun([runs[k]].flat()))
    const perPage = (x) => 1 / x.rps
    const vsSmall = perPage(l) / perPage(s)
    const vsHistory = perPage(l) / perPage(h)
    const groupRatio = g.rps / c.rps
    ctx.derive({ name: `conversations ${large.length} vs 100`, server: 'gateway', value: vsSmall, shown: `${vsSmall.toFixed(2)}× time/page (p50 ${(l.p50 / s.p50).toFixed(2)}×)`, target: `≤ ${PAGE_RATIO}×`, met: vsSmall <= PAGE_RATIO, valid: l.valid && s.valid })
    ctx.derive({ name: 'conversations vs history page', server: 'gateway', value: vsHistory, shown: `${vsHistory.toFixed(2)}× time/page`, target: `≤ ${HISTORY_RATIO}×`, met: vsHistory <= HISTORY_RATIO, valid: l.valid && h.valid })
    ctx.derive({ name: 'group send (1000 members) vs C2C', server: 'gateway', value: groupRatio, shown: `${groupRatio.toFixed(2)}× req/s`, target: `≥ ${GROUP_RATIO}×`, met: groupRatio >= GROUP_RATIO, valid: g.valid && c.valid })
  },
}
export default scenario
