// read: POST /conversations/c2c_<one of 1000 peers>/read with `{}` (the read point to the
// newest message) against the naive server's one upsert. Every peer's conversation has a
// message first, on both servers.
import { batchBody, PEERS } from './common.mjs'

export default {
  name: 'read',
  servers: ['naive', 'gateway'],
  baseline: 'naive',
  async prepare (ctx) {
    for (const s of [ctx.servers.gateway, ctx.servers.naive]) {
      for (let i = 0; i < PEERS.length; i += 500) await ctx.call(s, 'POST', '/messages/batch', batchBody(PEERS.slice(i, i + 500)))
    }
  },
  plan: { method: 'POST', items: PEERS.map(p => ({ path: `/conversations/c2c_${p}/read`, body: '{}' })) },
}
