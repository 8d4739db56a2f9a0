// pg-history: GET /conversations/c2c_hist/messages?count=20 on a conversation of
// BENCH_HISTORY_ROWS messages on PostgreSQL (imported through the gateway, 1000 a request;
// inserted with one statement into the naive server's table; both ANALYZEd), against the
// naive server's one SELECT.
import { seedNaivePgHistory } from '../baselines/naive-pg.mjs'
import { SENDER, TEXT } from './common.mjs'

const PEER = 'hist'
const PATH = `/conversations/c2c_${PEER}/messages?count=20`

export default {
  name: 'pg-history',
  groups: ['history'],
  servers: ['naive', 'gateway'],
  baseline: 'naive',
  async prepare (ctx) {
    const { gateway, naive } = ctx.servers
    const rows = ctx.knobs.historyRows
    const t0 = Math.floor(Date.now() / 1000) - rows - 10
    for (let from = 0; from < rows; from += 1000) {
      const msgs = Array.from({ length: Math.min(1000, rows - from) }, (_, j) => ({
        message_elem_array: [{ elem_type: 0, text_elem_content: `${TEXT} #${from + j}` }], message_server_time: t0 + from + j, message_client_time: t0 + from + j,
      }))
      await ctx.call(gateway, 'POST', `/conversations/c2c_${PEER}/messages/import`, JSON.stringify(msgs))
    }
    await ctx.pg.admin.query(`ANALYZE ${ctx.pg.schemaOf(gateway.logName)}.messages`)
    await seedNaivePgHistory(ctx.pg.admin, ctx.pg.schemaOf(naive.logName), { conv: `c2c:${SENDER}\n${PEER}`, sender: SENDER, t0, text: TEXT, rows })
    for (const s of [naive, gateway]) {
      const page = await ctx.call(s, 'GET', PATH, undefined, { headers: { authorization: ctx.headers.authorization } })
      if (page.length !== Math.min(20, rows)) throw new Error(`${s.name} history: ${page.length} messages in a page of 20 of ${rows}`)
    }
  },
  plan: { method: 'GET', items: [{ path: PATH }] },
}
