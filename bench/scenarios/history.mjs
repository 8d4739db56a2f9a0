// history-<size>: GET /conversations/c2c_hist/messages?count=20 on a conversation of <size>
// messages (BENCH_HISTORY_SIZES), against the naive server's one SELECT. Its own gateway and
// naive server, on their own files: both start once (the gateway migrates, the naive server
// makes its table) and stop; then each size is seeded with SQL straight into those files
// while they are stopped, and both start again on them. Target: the time per page at the
// largest size ≤ 1.3× that at the smallest.
import { join } from 'node:path'
import { sizeLabel } from '../lib/format.mjs'
import { medianRun } from '../lib/measure.mjs'
import { seedInWorker } from '../lib/sqlite-seed.mjs'
import { SENDER, TEXT } from './common.mjs'

const PEER = 'hist'
const PATH = `/conversations/c2c_${PEER}/messages?count=20`
const TIME_PER_PAGE_RATIO = 1.3

const scenario = {
  name: 'history',
  servers: [],
  baseline: 'naive',
  plan: { method: 'GET', items: [{ path: PATH }] },
  async run (ctx) {
    const sizes = ctx.knobs.historySizes
    const naiveDb = join(ctx.dir, 'history-naive.db')
    const start = async () => {
      const g = await ctx.startGateway('history-gateway', { as: 'gateway' })
      const b = await ctx.startBaseline('naive-sqlite', 'history-naive', { env: { BENCH_NAIVE_DB: naiveDb }, as: 'naive' })
      return [b, g]
    }
    const stopBoth = async (servers) => { for (const s of servers) await ctx.stopServer(s) }
    await stopBoth(await start())
    const t0 = Math.floor(Date.now() / 1000) - sizes.at(-1) - 86400
    const job = { convKey: `c2c:${SENDER}\n${PEER}`, sender: SENDER, peer: PEER, text: TEXT, t0 }
    const seeding = (ctx.output.historySeeding = [])
    const gateways = []
    let have = 0
    for (const size of sizes) {
      const label = `history-${sizeLabel(size)}`
      const started = Date.now()
      const [gatewaySeconds, naiveSeconds] = await Promise.all([
        seedInWorker(ctx, { ...job, file: join(ctx.dir, 'history-gateway', 'timgate.db'), kind: 'gateway', from: have, to: size }),
        seedInWorker(ctx, { ...job, file: naiveDb, kind: 'naive', from: have, to: size }),
      ])
      const seconds = (Date.now() - started) / 1000
      seeding.push({ size, from: have, gatewaySeconds, naiveSeconds, seconds })
      ctx.log(`  seeded ${label}: +${size - have} messages in ${seconds.toFixed(1)} s (gateway's file ${gatewaySeconds.toFixed(1)} s, naive's ${naiveSeconds.toFixed(1)} s, in parallel)`)
      have = size
      const servers = await start()
      for (const s of servers) {
        const page = await ctx.call(s, 'GET', PATH, undefined, { headers: { authorization: ctx.headers.authorization } })
        if (page.length !== 20 || page.every(m => m.message_seq !== size)) throw new Error(`${s.name} ${label}: the page is not the newest 20 of ${size} (got ${page.length}, seqs ${page.map(m => m.message_seq).join(',')})`)
      }
      gateways.push(medianRun((await ctx.runPlan(scenario, { label, servers })).gateway))
      await stopBoth(servers)
    }
    ctx.footer.push(`history seeding (gateway's and naive's files in parallel): ${seeding.map(s => `${sizeLabel(s.size)} +${s.size - s.from} in ${s.seconds.toFixed(1)} s`).join('; ')}` +
      `; ${seeding.reduce((t, s) => t + s.seconds, 0).toFixed(1)} s in all`)
    if (gateways.length < 2) return
    const [small, large] = [gateways[0], gateways.at(-1)]
    const ratio = small.rps / large.rps
    ctx.derive({
      name: `${large.scenario}/${small.scenario.slice(8)}`,
      server: 'gateway',
      value: ratio,
      shown: `${ratio.toFixed(2)}× time/page (p50 ${(large.p50 / small.p50).toFixed(2)}×)`,
      target: `≤ ${TIME_PER_PAGE_RATIO}×`,
      met: ratio <= TIME_PER_PAGE_RATIO,
      valid: small.valid && large.valid,
    })
  },
}
export default scenario
