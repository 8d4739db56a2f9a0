// Where the servers' CPU went, under BENCH_CPU_PROF=1 (node --cpu-prof): self time by owner
// (node core and native code, such as the writev of a socket, charged to the package or
// file that called it), by area and by function. The profiler slows every server: its
// numbers are for attribution only.
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The package, file of ours or node core area of a call frame. */
function area (cf) {
  const url = cf.url
  if (url === '') return cf.functionName.startsWith('(') ? cf.functionName : '(native)'
  if (url.startsWith('node:')) return url.startsWith('node:internal/') ? `node:${url.slice(14).split('/')[0]}` : url
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  const d = url.indexOf('/dist/')
  if (d >= 0) return `timgate ${url.slice(d + 6)}`
  const b = url.indexOf('/bench/baselines/')
  return b >= 0 ? `${url.slice(b + 1)} (baseline)` : url
}
const transparent = (a) => a === '(native)' || a.startsWith('node:')
const add = (m, k, us) => m.set(k, (m.get(k) ?? 0) + us)

/** Adds one .cpuprofile's self time into the totals `t`. */
function addProfile (prof, t) {
  const byId = new Map(prof.nodes.map(n => [n.id, n]))
  const parent = new Map()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const selfUs = new Map()
  for (let i = 0; i < prof.samples.length; i++) add(selfUs, prof.samples[i], prof.timeDeltas[i] ?? 0)
  const owners = new Map()
  const ownerOf = (id) => {
    let known = owners.get(id)
    if (known !== undefined) return known
    const a = area(byId.get(id).callFrame)
    const up = parent.get(id)
    known = transparent(a) && up !== undefined && !byId.get(up).callFrame.functionName.startsWith('(root)') ? ownerOf(up) : a
    owners.set(id, known)
    return known
  }
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame
    t.total += us
    if (cf.functionName === '(idle)') continue
    t.busy += us
    const a = area(cf)
    add(t.byOwner, ownerOf(id), us)
    add(t.areas, a, us)
    add(t.fns, `${cf.functionName || '(anonymous)'} ${a}:${cf.lineNumber + 1}`, us)
  }
}

/**
 * The profiles a server process named `name` wrote into `dir` (all of its runs), printed
 * with `log` and answered; `requests` is what it answered, warm-ups included.
 */
export function summarizeProfile (name, dir, requests, log) {
  const files = existsSync(dir) ? readdirSync(dir).filter(f => f.endsWith('.cpuprofile')) : []
  if (files.length === 0) {
    log(`${name}: no CPU profile was written`)
    return undefined
  }
  const t = { total: 0, busy: 0, byOwner: new Map(), areas: new Map(), fns: new Map() }
  for (const f of files) addProfile(JSON.parse(readFileSync(join(dir, f), 'utf8')), t)
  const top = (m, n) => [...m].sort((x, y) => y[1] - x[1]).slice(0, n)
    .map(([k, us]) => ({ name: k, ms: us / 1000, pct: us / t.busy * 100, usPerRequest: us / requests }))
  const summary = { totalMs: t.total / 1000, busyMs: t.busy / 1000, requests, byOwner: top(t.byOwner, 20), byArea: top(t.areas, 20), byFunction: top(t.fns, 25) }
  const show = (rows) => rows.map(r => `  ${r.pct.toFixed(1).padStart(5)} %  ${r.ms.toFixed(0).padStart(7)} ms  ${r.usPerRequest.toFixed(1).padStart(6)} µs/req  ${r.name}`).join('\n')
  log(`\n${name} CPU profile: ${summary.busyMs.toFixed(0)} ms busy of ${summary.totalMs.toFixed(0)} ms (self time) over the whole process, ` +
    `${requests} requests answered (warm-ups included): ${(t.busy / requests).toFixed(0)} µs/req\n` +
    `by owner (node core and native code charged to its caller):\n${show(summary.byOwner)}\nby area:\n${show(summary.byArea)}\nby function:\n${show(summary.byFunction)}`)
  return summary
}

/**
 * Summaries of every server's profiles under `profDir` (one dir per server name); the
 * profiles are moved to a new temp dir that outlives the run (for Chrome DevTools or
 * speedscope).
 */
export function summarizeProfiles (profDir, answered, log) {
  if (!existsSync(profDir)) return undefined
  const out = {}
  const keep = mkdtempSync(join(tmpdir(), 'timgate-bench-profiles-'))
  for (const name of readdirSync(profDir)) {
    out[name] = summarizeProfile(name, join(profDir, name), answered[name] ?? 0, log)
    for (const [i, f] of readdirSync(join(profDir, name)).entries()) renameSync(join(profDir, name, f), join(keep, `${name}-${i}.cpuprofile`))
  }
  log(`profiles kept in ${keep}`)
  return out
}
