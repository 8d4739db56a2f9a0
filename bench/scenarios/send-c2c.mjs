// send-c2c: POST /conversations/c2c_<one of 1000 peers>/messages, one text element, against
// the naive server's one INSERT (and the bare route, for reference). Its RSS: right after
// the warm-up and at the end of the measured run, the naive server's growth beside it; and,
// since V8's heap is still sizing itself ten seconds after a short warm-up, flatness judged
// on a further BENCH_RSS_DURATION seconds (0 skips it) of the same load on each: the peak of
// the last third at most +10 % over that of the middle third.
import { fmt, MB, pct } from '../lib/format.mjs'
import { medianRun } from '../lib/measure.mjs'
import { failures } from '../lib/wrk.mjs'
import { PEERS, sendPlan } from './common.mjs'

const RSS_GROWTH_PCT = 10

/** The same load for BENCH_RSS_DURATION s on `server`, its RSS sampled every 100 ms. */
async function sustained (ctx, server, plan) {
  const rss = ctx.sampleRss(server.pid, 100)
  const r = await ctx.wrk(server, plan, ctx.knobs.connections, ctx.knobs.rssDuration)
  const v = rss.stop().values
  const third = Math.floor(v.length / 3)
  const middle = Math.max(...v.slice(third, 2 * third))
  const last = Math.max(...v.slice(2 * third))
  const out = {
    server: server.name,
    startMB: v[0] / MB,
    endMB: v.at(-1) / MB,
    lastThirdOverMiddlePct: (last - middle) / middle * 100,
    valid: failures(r) === 0,
    rps: (r.requests - r.status) / (r.duration_us / 1e6),
    non2xx: r.status,
    socketErrors: { connect: r.connect, read: r.read, write: r.write, timeout: r.timeout },
    rssEvery10sMB: [...v.filter((_, i) => i % 100 === 0), v.at(-1)].map(x => Math.round(x / MB)),
  }
  ctx.log(`  send-c2c sustained ${server.name.padEnd(8)} ${fmt(out.rps).padStart(7)} req/s, RSS every 10 s: ${out.rssEvery10sMB.join(', ')} MB, ` +
    `last third ${pct(out.lastThirdOverMiddlePct)} over the middle${out.valid ? '' : `  INVALID: ${r.status} non-2xx, socket errors ${r.connect}/${r.read}/${r.write}/${r.timeout}`}`)
  return out
}

const scenario = {
  name: 'send-c2c',
  groups: ['send'],
  servers: ['bare', 'naive', 'gateway'],
  baseline: 'naive',
  target: { ratio: 1.0, p99Ratio: 1.5 },
  // Three rounds at least, whatever BENCH_ROUNDS: a single round's p99 is as often the host's
  // stall (100-300 ms on either server) as the servers' own (docs/performance.md, 2026-12-05).
  rounds: 3,
  plan: sendPlan(PEERS),
  async run (ctx) {
    const runs = await ctx.runPlan(scenario)
    const b = medianRun(runs.naive)
    const g = medianRun(runs.gateway)
    const growth = (r) => (r.rssEndMB - r.rssAfterWarmupMB) / r.rssAfterWarmupMB * 100
    ctx.derive({
      name: 'RSS (send-c2c)',
      server: 'gateway',
      value: growth(g),
      shown: `${fmt(g.rssAfterWarmupMB)}→${fmt(g.rssEndMB)} MB ${pct(growth(g))} (naive ${pct(growth(b))})`,
      valid: g.valid,
      rssAfterWarmupMB: g.rssAfterWarmupMB,
      rssEndMB: g.rssEndMB,
      naiveRssAfterWarmupMB: b.rssAfterWarmupMB,
      naiveRssEndMB: b.rssEndMB,
    })
    const seconds = ctx.knobs.rssDuration
    if (seconds === 0) return
    ctx.log(`  (RSS under sustained load: the same send-c2c load for ${seconds} s on each)`)
    const sn = await sustained(ctx, ctx.servers.naive, scenario.plan)
    const sg = await sustained(ctx, ctx.servers.gateway, scenario.plan)
    ctx.derive({
      name: `RSS flat (send-c2c ${seconds} s)`,
      server: 'gateway',
      value: sg.lastThirdOverMiddlePct,
      shown: `${fmt(sg.startMB)}→${fmt(sg.endMB)} MB; last third ${pct(sg.lastThirdOverMiddlePct)} over the middle (naive ${pct(sn.lastThirdOverMiddlePct)})`,
      target: `≤ +${RSS_GROWTH_PCT} %`,
      met: sg.lastThirdOverMiddlePct <= RSS_GROWTH_PCT,
      valid: sg.valid,
      gateway: sg,
      naive: sn,
    })
  },
}
export default scenario
