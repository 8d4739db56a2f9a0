// Fixed-rate load, which wrk cannot do (it keeps every connection busy, so its rate is
// whatever the server manages). For scenarios such as webhooks at fixed rates, or light
// requests measured while something else saturates the gateway.
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { Pool } from 'undici'
import { percentile } from './format.mjs'

/**
 * Open-loop load on `base`: `rate` requests a second for `seconds`, each sent at its
 * scheduled time whether or not the earlier ones were answered, on up to `connections`
 * connections. `request(i)` answers the i-th request's `{ method, path, headers, body }`.
 * Latency counts from the scheduled time, so a server that falls behind shows it (no
 * coordinated omission). At most `maxInFlight` requests wait at once: past that a request
 * is not sent and counts as `dropped`. Answers counts (ok = 2xx, non2xx, errors, dropped),
 * p50/p99/max in ms, the seconds it took and the rate sent; `valid` is false on any non-2xx,
 * error or drop.
 */
export async function paced ({ base, rate, seconds, request, connections = 64, maxInFlight = 10_000, timeoutMs = 30_000 }) {
  const pool = new Pool(base, { connections, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  const total = Math.floor(rate * seconds)
  const latencies = []
  const counts = { ok: 0, non2xx: 0, errors: 0, dropped: 0 }
  const pending = new Set()
  const started = performance.now()
  try {
    for (let i = 0; i < total; i++) {
      const due = started + i * 1000 / rate
      const wait = due - performance.now()
      if (wait >= 1) await sleep(wait)
      if (pending.size >= maxInFlight) {
        counts.dropped++
        continue
      }
      const p = pool.request(request(i))
        .then(async (res) => {
          await res.body.dump()
          latencies.push(performance.now() - due)
          counts[res.statusCode >= 200 && res.statusCode < 300 ? 'ok' : 'non2xx']++
        }, () => { counts.errors++ })
        .finally(() => pending.delete(p))
      pending.add(p)
    }
    await Promise.all(pending)
  } finally {
    await pool.close()
  }
  const took = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return {
    requests: total,
    ...counts,
    seconds: took,
    rateSent: (total - counts.dropped) / took,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1),
    valid: counts.non2xx + counts.errors + counts.dropped === 0,
  }
}
