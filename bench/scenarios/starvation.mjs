// starvation (CONTRACT §12): one identity ("hog") keeps K maximal imports in flight, K = 8
// then 48 (BENCH_HOG_CONCURRENCY), each 1000 messages of 341 face elements (an 11.8 MB body)
// into a fresh conversation, retrying 50 ms after a 429; meanwhile other identities send
// light requests at a fixed rate (BENCH_LIGHT_RATE a second, open loop: a send, a page of
// history and /health in turn). Reported for each K: the light requests' p50/p99/max, the
// gateway's peak RSS, the hog's imports done and refused; and the same light load with no
// hog, in the same run. Targets: light p99 ≤ 250 ms, peak RSS < 1 GiB. A refusal closes the
// connection before the body is read, so the hog sometimes sees the socket reset (EPIPE,
// ECONNRESET) before it could read its 429: counted as "reset" (and retried 50 ms later, as a
// 429 is) when its body was cut short, apart from real failures.
import { Buffer } from 'node:buffer'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { fmt, MB } from '../lib/format.mjs'

const P99_MS = 250
const RSS_LIMIT_MB = 1024
const VICTIMS = ['v1', 'v2', 'v3', 'v4']
/** How a refused upload's connection may end on the hog's side before it reads the 429 (undici's SocketError carries the socket's bytesWritten). */
const RESET = new Set(['ECONNRESET', 'UND_ERR_SOCKET'])

/** A maximal import body: 1000 messages of 341 face elements (12 KB each once serialized). */
function maximalImport () {
  const elems = Array.from({ length: 341 }, () => ({ elem_type: 6, face_elem_index: 1 }))
  return Buffer.from(JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ message_elem_array: elems, message_rand: i }))))
}

/** `concurrency` loops of maximal imports as `sig`'s identity until `signal` aborts; counts. */
function hog (base, sig, concurrency, signal) {
  const body = maximalImport()
  const pool = new Pool(base, { connections: concurrency, headersTimeout: 120_000, bodyTimeout: 120_000 })
  const counts = { done: 0, refused: 0, reset: 0, failed: 0, sentMB: 0 }
  let n = 0
  const loop = async () => {
    while (!signal.aborted) {
      try {
        const res = await pool.request({
          method: 'POST',
          path: `/conversations/c2c_hog-peer-${n++}/messages/import`,
          headers: { authorization: `Bearer ${sig}`, 'content-type': 'application/json' },
          body,
        })
        await res.body.dump()
        counts.sentMB += body.length / MB
        if (res.statusCode === 200) counts.done++
        else if (res.statusCode === 429) {
          counts.refused++
          await sleep(50)
        } else counts.failed++
      } catch (err) {
        if (signal.aborted) continue
        // A refusal the hog could not read: its body was cut short. Anything else (an
        // admitted import's connection dropped, the gateway gone) is a failure.
        if (err.code === 'EPIPE' || (RESET.has(err.code) && !(err.socket?.bytesWritten >= body.length))) {
          counts.reset++
          await sleep(50)
        } else counts.failed++
      }
    }
  }
  const loops = Array.from({ length: concurrency }, loop)
  return { counts, done: Promise.all(loops).finally(() => pool.close()) }
}

const scenario = {
  name: 'starvation',
  groups: ['pressure'],
  // It starts a gateway of its own: the hog's imports must not land in the shared one.
  servers: [],
  async run (ctx) {
    const gateway = await ctx.startGateway('starvation-gateway', { env: { TIM_HEAVY_CONCURRENCY: '2' } })
    const seconds = ctx.knobs.duration
    const rate = ctx.knobs.lightRate
    const victims = VICTIMS.map(user => ({ user, headers: { authorization: `Bearer ${ctx.sign(user)}`, 'content-type': 'application/json' } }))
    for (const v of victims) await ctx.call(gateway, 'POST', '/conversations/c2c_friend/messages', '{"message_elem_array":[{"elem_type":0,"text_elem_content":"hi"}]}', { headers: v.headers })
    const light = (i) => {
      const v = victims[i % victims.length]
      switch (i % 3) {
        case 0: return { method: 'POST', path: '/conversations/c2c_friend/messages', headers: v.headers, body: `{"message_elem_array":[{"elem_type":0,"text_elem_content":"light ${i}"}]}` }
        case 1: return { method: 'GET', path: '/conversations/c2c_friend/messages?count=20', headers: v.headers }
        default: return { method: 'GET', path: '/health' }
      }
    }
    const measure = async (hogConcurrency) => {
      const rss = ctx.sampleRss(gateway.pid, 50)
      const abort = new globalThis.AbortController()
      const h = hogConcurrency === 0 ? undefined : hog(gateway.base, ctx.sign('hog'), hogConcurrency, abort.signal)
      // The hog gets going before the light load is measured.
      if (h !== undefined) await sleep(2000)
      const started = performance.now()
      const r = await ctx.paced({ base: gateway.base, rate, seconds, request: light, connections: 32 })
      abort.abort()
      await h?.done
      const peak = rss.stop().peak / MB
      const label = hogConcurrency === 0 ? 'alone' : `hog ${hogConcurrency}`
      ctx.log(`  starvation ${label.padEnd(7)} light ${fmt(r.rateSent)}/s: p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, max ${fmt(r.max, 1)} ms, ` +
        `${r.non2xx} non-2xx, ${r.errors} errors; peak RSS ${fmt(peak)} MB` +
        (h === undefined ? '' : `; hog: ${h.counts.done} imports done, ${h.counts.refused} refused, ${h.counts.reset} reset, ${h.counts.failed} failed in ${fmt((performance.now() - started) / 1000)} s`))
      return { hogConcurrency, light: r, peakRssMB: peak, hog: h?.counts }
    }
    const alone = await measure(0)
    for (const k of ctx.knobs.hogConcurrency) {
      const m = await measure(k)
      ctx.derive({
        name: `starvation (hog ${k})`,
        server: 'gateway',
        value: m.light.p99,
        shown: `light p99 ${fmt(m.light.p99, 1)} ms (alone ${fmt(alone.light.p99, 1)}), max ${fmt(m.light.max, 1)}; peak RSS ${fmt(m.peakRssMB)} MB; ${m.hog.done} imports, ${m.hog.refused} refused, ${m.hog.reset} reset`,
        target: `p99 ≤ ${P99_MS} ms, RSS < ${RSS_LIMIT_MB} MB`,
        met: m.light.p99 <= P99_MS && m.peakRssMB < RSS_LIMIT_MB,
        valid: m.light.valid && m.hog.failed === 0 && m.hog.done > 0,
        alone,
        ...m,
      })
    }
  },
}
export default scenario
