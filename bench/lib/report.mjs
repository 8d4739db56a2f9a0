// The verdict of a run: the median run of each scenario and server, its ratios to the
// scenario's baseline measured in the same run, the targets met or not; one table, and the
// results file.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fmt, formatTable } from './format.mjs'
import { medianRun } from './measure.mjs'

const targetText = (t) => [t.ratio !== undefined && `≥ ${t.ratio}×`, t.p99Ratio !== undefined && `p99 ≤ ${t.p99Ratio}×`].filter(Boolean).join(', ')

/**
 * Judges ctx.runs against each scenario's baseline and target: the table's rows (with the
 * suite's extra columns) and one verdict per scenario label for the results file. Ratios
 * are those of the subject (the gateway) to the baseline; a target counts only when both
 * runs are valid.
 */
export function judge (ctx, scenarios) {
  const byName = Object.fromEntries(scenarios.map(s => [s.name, s]))
  const groups = new Map()
  for (const r of ctx.runs) {
    const bySrv = groups.get(r.scenario) ?? groups.set(r.scenario, new Map()).get(r.scenario)
    bySrv.set(r.server, [...bySrv.get(r.server) ?? [], r])
  }
  const columns = ctx.suite.columns ?? []
  const rows = []
  const verdicts = []
  for (const [label, bySrv] of groups) {
    const runs = new Map([...bySrv].map(([server, rs]) => [server, medianRun(rs)]))
    const sc = byName[runs.values().next().value.of] ?? {}
    const b = runs.get(sc.baseline)
    for (const [server, r] of runs) {
      const subject = server === (sc.subject ?? 'gateway') && b !== undefined
      const ratio = subject && b.rps > 0 ? r.rps / b.rps : undefined
      const p99Ratio = subject ? r.p99 / b.p99 : undefined
      const target = subject && label === sc.name ? sc.target : undefined
      const valid = r.valid && (b === undefined || b.valid)
      const checks = target === undefined ? [] : [target.ratio === undefined || ratio >= target.ratio, target.p99Ratio === undefined || p99Ratio <= target.p99Ratio]
      const met = !valid ? 'INVALID' : target === undefined ? '-' : checks.every(Boolean) ? 'yes' : 'NO'
      if (subject) verdicts.push({ name: label, baseline: sc.baseline, ratio, p99Ratio, target: target?.ratio, p99Target: target?.p99Ratio, met })
      rows.push([
        label, server, fmt(r.rps),
        r.rowsPerSecond !== undefined ? fmt(r.rowsPerSecond) : r.mbps !== undefined ? `${fmt(r.mbps)} MB/s` : '',
        fmt(r.p50, 1), fmt(r.p99, 1), fmt(r.peakRssMB), `${fmt(r.serverCpuUsPerRequest)} (${fmt(r.serverSysUsPerRequest)})`,
        ...columns.map(c => c.value(r)),
        ratio === undefined ? '' : `${ratio.toFixed(2)}× ${sc.baseline}`, p99Ratio === undefined ? '' : `${p99Ratio.toFixed(2)}×`,
        target === undefined ? '' : targetText(target), subject ? met : r.valid ? '' : 'INVALID',
      ])
    }
  }
  for (const d of ctx.derived) {
    rows.push([d.name, d.server, '', '', '', '', '', '', ...columns.map(() => ''), d.shown, '', d.target ?? '', d.valid ? (d.met === undefined ? '-' : d.met ? 'yes' : 'NO') : 'INVALID'])
  }
  const head = ['scenario', 'server', 'req/s', 'rows/s', 'p50 ms', 'p99 ms', 'peak RSS MB', 'cpu µs/req (sys)', ...columns.map(c => c.head), 'ratio', 'p99 ratio', 'target', 'met?']
  return { table: formatTable(head, rows), verdicts }
}

/** Lines for under the table: why each INVALID run is. */
export const invalidLines = (runs) => runs.filter(r => !r.valid).map(r =>
  `INVALID ${r.scenario}/${r.server}: ${r.non2xx} non-2xx of ${r.requests}, socket errors ${JSON.stringify(r.socketErrors)}${r.wrapped > 0 ? ', ran out of prepared messages' : ''}`)

/** Writes bench/results/<suite>-<ISO date>.json; its path. */
export function writeResults (root, out) {
  const dir = join(root, 'bench/results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${out.suite}-${out.date.replace(/:/g, '-')}.json`)
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n')
  return file
}
