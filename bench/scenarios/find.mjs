// find: POST …/messages/find with 20 locators, at random, of 1000 messages imported into
// one conversation, against the naive server's 20 point SELECTs.
import { importMessages } from './common.mjs'

const PATH = '/conversations/c2c_finder/messages/find'

export default {
  name: 'find',
  servers: ['naive', 'gateway'],
  baseline: 'naive',
  /** On each server, 1000 messages and 200 request bodies of 20 of their locators. */
  async prepare (ctx) {
    const msgs = JSON.stringify(importMessages(1000, Math.floor(Date.now() / 1000) - 100_000, 'found'))
    const plans = {}
    for (const s of [ctx.servers.naive, ctx.servers.gateway]) {
      const stored = await ctx.call(s, 'POST', '/conversations/c2c_finder/messages/import', msgs)
      const items = Array.from({ length: 200 }, () => ({
        path: PATH,
        body: JSON.stringify(Array.from({ length: 20 }, () => {
          const m = stored[Math.floor(Math.random() * stored.length)]
          return { message_locator_seq: m.message_seq, message_locator_rand: m.message_rand, message_locator_time: m.message_server_time }
        })),
      }))
      const check = await ctx.call(s, 'POST', PATH, items[0].body)
      if (check.length !== 20) throw new Error(`${s.name} find: ${check.length} messages for 20 locators`)
      plans[s.name] = { method: 'POST', items }
    }
    return plans
  },
  plan: (ctx, { server, prepared }) => prepared[server.name],
}
