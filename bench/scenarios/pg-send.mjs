// pg-send: POST /conversations/c2c_<one of BENCH_CONVERSATIONS peers, at random>/messages,
// one text element, on PostgreSQL, against the naive server's one INSERT … RETURNING id
// through a pool of the same size. Target ≥ 0.8×.
import { sendPlan, SEND_BODY, users } from './common.mjs'

export default {
  name: 'pg-send',
  groups: ['send'],
  servers: ['naive', 'gateway'],
  baseline: 'naive',
  target: { ratio: 0.8 },
  /** Both answer a send as the plan expects, before anything is timed. */
  async prepare (ctx) {
    const plan = sendPlan(users('peer', ctx.knobs.conversations, 5))
    for (const s of [ctx.servers.naive, ctx.servers.gateway]) {
      const msg = await ctx.call(s, 'POST', plan.items[0].path, SEND_BODY)
      if (typeof msg.message_unique_id !== 'number') throw new Error(`${s.name} send: ${JSON.stringify(msg)}`)
    }
    return plan
  },
  plan: (ctx, { prepared }) => prepared,
}
