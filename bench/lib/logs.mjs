// What the servers' logs say: the status codes they answered and their error lines.
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { percentile } from './format.mjs'

/** Status counts of the "request completed" lines and the error lines (level ≥ 50) of each server log. */
export async function summarizeLogs (files) {
  const out = {}
  for (const [name, file] of Object.entries(files)) {
    if (!existsSync(file) || statSync(file).size === 0) continue
    const s = { lines: 0, statuses: {}, errors: 0, samples: [] }
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
      s.lines++
      const status = /"statusCode":(\d+)/.exec(line)
      if (status !== null && line.includes('"request completed"')) s.statuses[status[1]] = (s.statuses[status[1]] ?? 0) + 1
      const level = /"level":(\d+)/.exec(line)
      if (level !== null && Number(level[1]) >= 50) {
        s.errors++
        if (s.samples.length < 3) s.samples.push(line.slice(0, 400))
      } else if (level === null && line.trim() !== '' && s.samples.length < 3) {
        s.samples.push(line.slice(0, 400))
      }
    }
    out[name] = s
  }
  return out
}

/** Lines for under the table: each server whose log has 4xx/5xx answers or error lines. */
export const logLines = (summary) => Object.entries(summary ?? {}).flatMap(([name, s]) => {
  const statuses = Object.entries(s.statuses).filter(([code]) => Number(code) >= 400)
  if (statuses.length === 0 && s.errors === 0) return []
  return [`${name} log: ${statuses.map(([c, n]) => `${n}× ${c}`).join(', ') || 'no 4xx/5xx'}; ${s.errors} error lines${s.samples.length > 0 ? `, e.g. ${s.samples[0]}` : ''}`]
})

/**
 * The server's own latency over a measured run, from its log (`file` from byte `from` on):
 * the `responseTime` of its "request completed" lines dated within [t0, t1] (ms since the
 * epoch), from the request read to the answer written. Beside wrk's, it tells the server's
 * tail from the time a request spends in the client and the kernel (a stalled wrk thread or
 * host). Undefined when no line falls in the run.
 */
export async function serverLatency (file, from, t0, t1) {
  const times = []
  for await (const line of createInterface({ input: createReadStream(file, { start: from }), crlfDelay: Infinity })) {
    if (!line.includes('"request completed"')) continue
    const time = /"time":(\d+)/.exec(line)
    const rt = /"responseTime":([\d.]+)/.exec(line)
    if (time === null || rt === null || Number(time[1]) < t0 || Number(time[1]) > t1) continue
    times.push(Number(rt[1]))
  }
  if (times.length === 0) return undefined
  times.sort((a, b) => a - b)
  return { requests: times.length, p50: percentile(times, 50), p99: percentile(times, 99), max: times.at(-1) }
}
