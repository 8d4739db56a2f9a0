// Measuring with wrk: one run, a warm-up and a measured run of one server (its RSS sampled,
// its CPU counted), and a scenario's plan over its servers and rounds.
import { existsSync, statSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { fmt, MB, median } from './format.mjs'
import { serverLatency } from './logs.mjs'
import { bytesWritten, cpuTimes, machineCpu, resetPeakRss, sampleRss, tryMemory } from './proc.mjs'
import { failures, runWrk, writeScript } from './wrk.mjs'

/** wrk connections of a scenario: a number, or the name of a knob (default `connections`). */
export const connectionsOf = (scenario, knobs) => typeof scenario.connections === 'number' ? scenario.connections : knobs[scenario.connections ?? 'connections']

/** The run of median throughput among runs of the same scenario and server. */
export const medianRun = (runs) => runs.find(r => r.rps === median(runs.map(x => x.rps)))

export function measureHelpers (ctx) {
  const { knobs } = ctx
  const scripts = new WeakMap()
  /** The wrk script of a plan (written once per plan object), with the sender's headers. */
  const script = (spec) => {
    if (!scripts.has(spec)) scripts.set(spec, writeScript(ctx.dir, { headers: ctx.headers, ...spec }))
    return scripts.get(spec)
  }
  /** One wrk run of `seconds` on `server` with a plan or a script path; wrk's JSON. */
  const wrk = (server, plan, connections, seconds) => runWrk({
    base: server.base, script: typeof plan === 'string' ? plan : script(plan), connections, seconds, timeout: knobs.timeout, track: ctx.track,
  })
  const count = (server, n) => { ctx.answered[server.logName] = (ctx.answered[server.logName] ?? 0) + n }

  /**
   * A warm-up (BENCH_WARMUP s) and a measured run (BENCH_DURATION s) of `plan` on `server`,
   * recorded in ctx.runs under `label`. `plan` is a wrk plan, or `(ctx, { server, phase,
   * warm, prepared })` answering one (phase 'warmup', then 'measured' with the warm-up's
   * result), which may do setup work first, outside the timing. A run with any non-2xx
   * response or socket error is INVALID. The suite's probe (if any) is read around it.
   */
  const measure = async (label, server, plan, { connections, rowsPerRequest, mbps = false, prepared, round } = {}) => {
    const planFor = (phase, warm) => typeof plan === 'function' ? plan(ctx, { server, phase, warm, prepared }) : plan
    const warm = await wrk(server, await planFor('warmup'), connections, knobs.warmup)
    count(server, warm.requests - warm.status)
    const measured = await planFor('measured', warm)
    const probe = await ctx.suite.probe?.before(ctx, server)
    const hwm = resetPeakRss(server.pid)
    const rss = sampleRss(server.pid, 100)
    const logFile = ctx.logFiles[server.logName]
    const logFrom = logFile !== undefined && existsSync(logFile) ? statSync(logFile).size : undefined
    const cpu0 = cpuTimes(server.pid)
    const written0 = bytesWritten(server.pid)
    const m0 = machineCpu()
    const t0 = Date.now()
    const r = await wrk(server, measured, connections, knobs.duration)
    const t1 = Date.now()
    const cpu1 = cpuTimes(server.pid)
    const written1 = bytesWritten(server.pid)
    const m1 = machineCpu()
    const mem = rss.stop()
    // The gateway writes its log in batches, the last one within LOG_FLUSH_MS (200 ms).
    const own = logFrom === undefined ? undefined : await sleep(300).then(() => serverLatency(logFile, logFrom, t0, t1))
    const peak = hwm ? Math.max(mem.peak ?? 0, tryMemory(server.pid, 'VmHWM') ?? 0) : mem.peak
    const seconds = r.duration_us / 1e6
    const ok = r.requests - r.status
    count(server, ok)
    const perOk = (s) => s / Math.max(1, ok) * 1e6
    const result = {
      scenario: label,
      of: ctx.current?.name,
      server: server.name,
      ...(round !== undefined && { round }),
      connections,
      requests: r.requests,
      ok,
      non2xx: r.status,
      socketErrors: { connect: r.connect, read: r.read, write: r.write, timeout: r.timeout },
      wrapped: r.wrapped,
      valid: failures(r) === 0 && r.wrapped === 0,
      seconds,
      rps: ok / seconds,
      rowsPerSecond: rowsPerRequest === undefined ? undefined : ok * rowsPerRequest / seconds,
      mbps: mbps ? r.bytes / MB / seconds : undefined,
      p50: r.p50_us / 1000,
      p99: r.p99_us / 1000,
      max: r.max_us / 1000,
      ...(own !== undefined && { readToAnswered: own }),
      rssAfterWarmupMB: mem.first / MB,
      rssEndMB: mem.last / MB,
      peakRssMB: peak / MB,
      serverCpuUsPerRequest: perOk(cpu1.user + cpu1.sys - cpu0.user - cpu0.sys),
      serverSysUsPerRequest: perOk(cpu1.sys - cpu0.sys),
      serverBytesWrittenPerRequest: (written1 - written0) / Math.max(1, ok),
      machineBusyPct: (m1.busy - m0.busy) / (m1.total - m0.total) * 100,
      warmup: { requests: warm.requests, non2xx: warm.status, rps: (warm.requests - warm.status) / (warm.duration_us / 1e6) },
      ...await ctx.suite.probe?.after(ctx, server, probe, ok),
    }
    ctx.runs.push(result)
    const problems = [
      r.status > 0 && `${r.status} non-2xx`,
      r.connect + r.read + r.write > 0 && `socket errors ${r.connect}/${r.read}/${r.write} (connect/read/write)`,
      r.timeout > 0 && `${r.timeout} timeouts`,
      r.wrapped > 0 && 'ran out of prepared messages',
    ].filter(Boolean)
    ctx.log(`  ${round === undefined ? '' : `round ${round} `}${label.padEnd(16)} ${server.name.padEnd(8)} ${fmt(result.rps).padStart(7)} req/s` +
      `${result.rowsPerSecond === undefined ? '' : ` (${fmt(result.rowsPerSecond)} rows/s)`}${result.mbps === undefined ? '' : ` (${fmt(result.mbps)} MB/s)`}, ` +
      `p50 ${fmt(result.p50, 1)} ms, p99 ${fmt(result.p99, 1)} ms${own === undefined ? '' : ` (read → answered in the server: p99 ${fmt(own.p99, 1)} ms)`}, peak RSS ${fmt(result.peakRssMB)} MB, ` +
      `written ${fmt(result.serverBytesWrittenPerRequest / 1024, 1)} KB/req, machine CPU ${fmt(result.machineBusyPct)} %` +
      `${problems.length > 0 ? `  INVALID: ${problems.join(', ')}` : ''}`)
    return result
  }

  /**
   * The declarative part of a scenario: its plan measured on each of its servers, in order,
   * BENCH_ROUNDS times, or the scenario's own `rounds` when that is more (every other round in
   * reverse, so that a drift of the machine favours none); the report takes the median run of
   * each. Answers the runs by server name (lists).
   */
  const runPlan = async (scenario, { label = scenario.name, servers = scenario.servers.map(n => ctx.servers[n]), plan = scenario.plan, prepared } = {}) => {
    const byServer = {}
    const opts = { connections: connectionsOf(scenario, knobs), rowsPerRequest: scenario.rowsPerRequest, mbps: scenario.mbps, prepared }
    const rounds = Math.max(knobs.rounds, scenario.rounds ?? 1)
    for (let round = 1; round <= rounds; round++) {
      for (const server of round % 2 === 1 ? servers : [...servers].reverse()) {
        (byServer[server.name] ??= []).push(await measure(label, server, plan, { ...opts, ...(rounds > 1 && { round }) }))
      }
    }
    return byServer
  }

  /** A figure that a scenario works out itself: { name, server, value, shown, target?, met?, valid }. */
  const derive = (d) => ctx.derived.push(d)

  return { script, wrk, measure, runPlan, derive }
}
