// Webhooks (CONTRACT §8), on a gateway of its own, with a fast local receiver (node:http in
// a child process, answering 204 at once). One outbound POST costs about as much as a
// send, so the load is at fixed rates (open loop):
//   webhooks-keepup      sends at 40 % of the rate wrk reached with no webhook, for
//                        BENCH_WEBHOOK_SECONDS (60) in two halves with no webhook and two with
//                        one subscribed to everything, in turn (each hooked half after a
//                        warm-up). Targets: the oldest pending delivery under 5 s throughout,
//                        the backlog back to 0 within 10 s of the load's end, send p99 (mean
//                        of the halves) ≤ 1.5× the same rate without webhooks.
//   webhooks-highest     the same at 60 %, 80 %, 100 % of that rate (BENCH_DURATION each):
//                        the highest at which deliveries keep up.
//   webhooks-before-send wrk sends with a before-send hook answering {} at once, against
//                        none just before it. Target: ≥ 0.5×.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { URL } from 'node:url'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fmt } from '../lib/format.mjs'
import { PEERS, SEND_BODY, sendPlan } from './common.mjs'

const KEEPUP_SHARE = 0.4
const OLDEST_MAX_S = 5
const DRAIN_MAX_S = 10
const P99_RATIO = 1.5
const BEFORE_SEND_RATIO = 0.5
const HIGHER_SHARES = [0.6, 0.8, 1.0]
const ADMIN = 'administrator'

/** The receiver (bench/lib/hook-receiver.mjs), in a child process: counts deliveries and before-send calls. */
async function startReceiver (ctx) {
  const child = ctx.track(fork(new URL('../lib/hook-receiver.mjs', import.meta.url).pathname, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
  // once() rejects on 'error'; an exit before the port is told would leave it waiting.
  const exited = once(child, 'exit').then(([code]) => { throw new Error(`the webhook receiver exited with ${code}`) })
  const [{ port }] = await Promise.race([once(child, 'message'), exited])
  exited.catch(() => {})
  const counts = async () => {
    child.send('counts')
    return (await once(child, 'message'))[0]
  }
  return {
    host: `127.0.0.1:${port}`,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    delivered: async () => (await counts()).delivered,
    calls: async () => (await counts()).calls,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = once(child, 'exit')
      child.kill()
      await gone
    },
  }
}

/** timgate_webhook_pending and timgate_webhook_oldest_pending_seconds from /metrics. */
async function backlog (base) {
  const text = await (await globalThis.fetch(`${base}/metrics`)).text()
  const gauge = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  return { pending: gauge('timgate_webhook_pending'), oldest: gauge('timgate_webhook_oldest_pending_seconds') }
}

async function admin (ctx, base, method, path, body) {
  const res = await globalThis.fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ctx.sign(ADMIN)}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`)
  return text === '' ? undefined : JSON.parse(text)
}

const scenario = {
  name: 'webhooks',
  groups: ['webhooks', 'webhooks-keepup', 'webhooks-highest', 'webhooks-before-send'],
  servers: [],
  async run (ctx) {
    const receiver = await startReceiver(ctx)
    try {
      await runWith(ctx, receiver)
    } finally {
      await receiver.close()
    }
  },
}

async function runWith (ctx, receiver) {
  const seconds = ctx.knobs.webhookSeconds
  const gateway = await ctx.startGateway('webhooks-gateway', { env: { TIM_RATE_LIMIT: '0', TIM_WEBHOOK_ALLOWED_HOSTS: receiver.host } })
  const plan = sendPlan(PEERS)
  const sig = ctx.sign('alice')
  const request = (i) => ({ method: 'POST', path: `/conversations/c2c_${PEERS[i % PEERS.length]}/messages`, headers: { authorization: `Bearer ${sig}`, 'content-type': 'application/json' }, body: SEND_BODY })
  const wrkRun = async (label) => {
    await ctx.wrk(gateway, plan, ctx.knobs.connections, ctx.knobs.warmup)
    const r = await ctx.wrk(gateway, plan, ctx.knobs.connections, ctx.knobs.duration)
    const rps = (r.requests - r.status) / (r.duration_us / 1e6)
    ctx.log(`  webhooks ${label.padEnd(26)} ${fmt(rps).padStart(7)} sends/s, p99 ${fmt(r.p99_us / 1000, 1)} ms${r.status > 0 ? `, ${r.status} non-2xx` : ''}`)
    return { rps, valid: r.status === 0 }
  }

  // The ceiling with no webhook: the fixed rate is a share of it.
  const max = await wrkRun('send, no webhook (wrk)')
  const rate = Math.max(1, Math.round(max.rps * KEEPUP_SHARE))
  /** The fixed rate with no webhook: the p99 to compare with. */
  const bareRun = async (s) => {
    const r = await ctx.paced({ base: gateway.base, rate, seconds: s, request })
    ctx.log(`  webhooks send at ${rate}/s for ${s} s, no webhook: p99 ${fmt(r.p99, 1)} ms`)
    return r
  }

  /** Sends at `r` a second for `s` seconds with the webhook subscribed, watching the backlog; then waits for it to drain. */
  const keepUp = async (r, s, label = '') => {
    const before = await receiver.delivered()
    let oldest = 0
    let watching = true
    const watcher = (async () => {
      while (watching) {
        oldest = Math.max(oldest, (await backlog(gateway.base)).oldest)
        await sleep(500)
      }
    })()
    const sent = await ctx.paced({ base: gateway.base, rate: r, seconds: s, request })
    watching = false
    await watcher
    const stopped = performance.now()
    let drained
    while (performance.now() - stopped < 60_000) {
      const b = await backlog(gateway.base)
      oldest = Math.max(oldest, b.oldest)
      if (b.pending === 0 && await receiver.delivered() - before >= sent.ok) {
        drained = (performance.now() - stopped) / 1000
        break
      }
      await sleep(100)
    }
    const held = oldest < OLDEST_MAX_S && drained !== undefined && drained <= DRAIN_MAX_S
    ctx.log(`  webhooks at ${r}/s for ${s} s${label && ` (${label})`}: send p99 ${fmt(sent.p99, 1)} ms, oldest pending ${fmt(oldest, 0)} s, ` +
      `backlog drained in ${drained === undefined ? '> 60' : fmt(drained, 1)} s, ${await receiver.delivered() - before} of ${sent.ok} delivered${held ? '' : ' — does not keep up'}`)
    return { sent, oldest, drained, held }
  }

  /** A webhook registered, warmed up at the rate, then `s` seconds measured. */
  const hookedRun = async (s) => {
    const registered = await admin(ctx, gateway.base, 'POST', '/webhooks', { url: receiver.url('/hook') })
    // Warmed up first, as every measured run is (the run with none follows another run): the
    // first second of deliveries (connections opened, the delivery path compiled) had sends
    // at p50 55-76 ms, p99 133 ms, and the seconds after it p99 5-24 ms.
    await keepUp(rate, ctx.knobs.warmup, 'warm-up')
    return { hook: registered, ...await keepUp(rate, s) }
  }
  // Without and with the webhook, twice, in turn: the database grows by ~5,000 messages a
  // second, and p99 with it; one run of each compared the later run's larger database.
  const half = Math.max(1, Math.round(seconds / 2))
  const bare = [await bareRun(half)]
  const hooked = [await hookedRun(half)]
  await admin(ctx, gateway.base, 'DELETE', `/webhooks/${hooked[0].hook.id}`)
  bare.push(await bareRun(half))
  hooked.push(await hookedRun(half))
  const hook = hooked[1].hook
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
  const bareP99 = mean(bare.map(r => r.p99))
  const hookedP99 = mean(hooked.map(r => r.sent.p99))
  const withHook = {
    held: hooked.every(r => r.held),
    oldest: Math.max(...hooked.map(r => r.oldest)),
    drained: hooked.some(r => r.drained === undefined) ? undefined : Math.max(...hooked.map(r => r.drained)),
  }
  ctx.derive({
    name: `webhooks-keepup (${rate}/s, 2 × ${half} s)`,
    server: 'gateway',
    value: hookedP99 / bareP99,
    shown: `send p99 ${fmt(hookedP99, 1)} vs ${fmt(bareP99, 1)} ms without (means of 2): ${(hookedP99 / bareP99).toFixed(2)}×; ` +
      `oldest pending ${fmt(withHook.oldest, 0)} s; drained in ${withHook.drained === undefined ? '> 60' : fmt(withHook.drained, 1)} s`,
    target: `p99 ≤ ${P99_RATIO}×, oldest < ${OLDEST_MAX_S} s, drained ≤ ${DRAIN_MAX_S} s`,
    met: withHook.held && hookedP99 <= P99_RATIO * bareP99,
    valid: bare.every(r => r.valid) && hooked.every(r => r.sent.valid),
  })

  let highest = withHook.held ? rate : undefined
  if (withHook.held) {
    for (const share of HIGHER_SHARES) {
      const r = Math.round(max.rps * share)
      const run = await keepUp(r, ctx.knobs.duration)
      if (!run.held || !run.sent.valid) break
      highest = r
    }
  }
  ctx.derive({
    name: 'webhooks highest steady rate',
    server: 'gateway',
    value: highest ?? 0,
    shown: `${highest === undefined ? `< ${rate}` : highest} sends/s with deliveries keeping up (${fmt(max.rps)} sends/s is the ceiling with none)`,
    valid: true,
  })

  // Before send: the event webhook goes; sends with no hook again, then with a before-send
  // hook answering {}: compared on the same database (the runs above added ~450,000
  // messages; against the first ceiling the ratio read 0.40× where adjacent runs read 0.55×).
  await admin(ctx, gateway.base, 'DELETE', `/webhooks/${hook.id}`)
  const bare2 = await wrkRun('send, no hook (wrk)')
  await admin(ctx, gateway.base, 'POST', '/webhooks', { url: receiver.url('/before-send'), event_types: ['before_send'] })
  const screened = await wrkRun('send, before-send hook (wrk)')
  const calls = await receiver.calls()
  ctx.derive({
    name: 'webhooks-before-send',
    server: 'gateway',
    value: screened.rps / bare2.rps,
    shown: `${fmt(screened.rps)} vs ${fmt(bare2.rps)} sends/s with no hook just before: ${(screened.rps / bare2.rps).toFixed(2)}×; ${calls} calls`,
    target: `≥ ${BEFORE_SEND_RATIO}×`,
    met: screened.rps / bare2.rps >= BEFORE_SEND_RATIO,
    valid: bare2.valid && screened.valid && calls > 0,
  })
}

export default scenario
