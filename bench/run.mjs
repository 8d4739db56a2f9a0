// The benchmark driver: `node bench/run.mjs [sqlite|pg|download]` (`npm run bench`,
// `npm run bench:pg`, `npm run bench:download`; they build first). Never part of `npm test`. See bench/README.md.
//
// A suite (bench/suites/) says how the gateway stores (SQLite, PostgreSQL) and which shared
// servers exist; its scenarios (bench/scenarios/, one file each) say what to measure. The
// driver starts the shared servers the selected scenarios need (each a child process on a
// free port on loopback), runs the scenarios in order (stopping each server after the last
// one that needs it), prints one table of ratios to the baselines measured in the same
// run, and writes bench/results/<suite>-<date>.json. Children, workers and the temp dir
// go at the end, whatever happens (Ctrl-C too).
//
// Load comes from wrk (bench/lib/wrk.mjs), which keeps its connections busy. A scenario
// that needs a fixed request rate (webhooks, light requests measured beside a saturating
// load) runs its own measurement in run(ctx) with ctx.paced (bench/lib/paced.mjs): an
// open-loop undici client that sends each request at its scheduled time.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cpus, freemem, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { createContext, root } from './lib/context.mjs'
import { sizeLabel } from './lib/format.mjs'
import { readKnobs } from './lib/knobs.mjs'
import { logLines, summarizeLogs } from './lib/logs.mjs'
import { summarizeProfiles } from './lib/profile.mjs'
import { invalidLines, judge, writeResults } from './lib/report.mjs'
import { ensureWrk } from './lib/wrk.mjs'
import download from './suites/download.mjs'
import pg from './suites/pg.mjs'
import sqlite from './suites/sqlite.mjs'

const suites = { sqlite, pg, download }
const rounded = (xs) => xs.map(x => Math.round(x * 100) / 100)

/** The scenarios of BENCH_SCENARIOS (names, groups, or `history-<size>`), in the suite's order. */
function select (suite, asked) {
  const tokens = asked.split(',').map(s => s.trim()).filter(s => s !== '')
  if (tokens.length === 0) return suite.scenarios
  const chosen = new Set()
  for (const t of tokens) {
    const matches = suite.scenarios.filter(s => s.name === t || s.groups?.includes(t) || t.startsWith(`${s.name}-`))
    if (matches.length === 0) {
      const names = [...new Set(suite.scenarios.flatMap(s => [s.name, ...s.groups ?? []]))]
      throw new Error(`BENCH_SCENARIOS: unknown scenario "${t}" for the ${suite.name} suite (${names.join(', ')})`)
    }
    for (const m of matches) chosen.add(m)
  }
  return suite.scenarios.filter(s => chosen.has(s))
}

/** How the load was made: wrk's settings, when a selected scenario has a wrk plan. */
function loadLine (knobs, scenarios) {
  const rounds = knobs.rounds > 1 ? `, ${knobs.rounds} rounds (median)` : ''
  const wrk = scenarios.some(s => s.plan !== undefined)
    ? `${knobs.warmup} s warm-up + ${knobs.duration} s measured per run${rounds}, ${knobs.connections} connections ` +
      `(${knobs.bulkConnections} for import/batch, ${knobs.downloadConnections} for downloads), `
    : `${knobs.rounds} rounds, `
  return `${wrk}log ${knobs.logLevel} to ${knobs.logTo === 'file' ? 'a file per server' : knobs.logTo}${knobs.cpuProf ? ', UNDER --cpu-prof' : ''}`
}

function machineInfo (wrk) {
  let gitCommit
  try {
    gitCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    // not a git checkout
  }
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGB: Math.round(freemem() / 2 ** 30),
    loadavgAtStart: rounded(loadavg()),
    kernel: release(),
    node: process.version,
    wrk,
    gitCommit,
  }
}

async function main () {
  const suite = suites[process.argv[2] ?? 'sqlite']
  if (suite === undefined) throw new Error(`usage: node bench/run.mjs [${Object.keys(suites).join('|')}]`)
  const knobs = readKnobs(suite.defaults)
  const scenarios = select(suite, knobs.scenarios)
  const wrkVersion = ensureWrk()
  if (!existsSync(join(root, 'dist/src/server.js'))) throw new Error('dist/src/server.js is missing: run `npm run build` (the npm scripts do)')

  const ctx = await createContext(suite, knobs)
  const { log } = ctx
  const startedAt = new Date()
  const phases = []
  let machine, logs, profiles
  try {
    machine = { ...machineInfo(wrkVersion), ...await suite.setup?.(ctx) }
    const store = machine.sqlite !== undefined ? `SQLite ${machine.sqlite}` : `PostgreSQL ${machine.postgres}`
    log(`${suite.title}: ${machine.cpus} × ${machine.model}, node ${machine.node}, ${wrkVersion}, ${store}`)
    log(`${loadLine(knobs, scenarios)}; temp dir ${ctx.dir}`)
    log(`scenarios: ${scenarios.map(s => s.name === 'history' ? knobs.historySizes.map(n => `history-${sizeLabel(n)}`).join(', ') : s.name).join(', ')}`)

    // The shared servers: started in the suite's order, each stopped after its last scenario.
    const needs = scenarios.map(s => new Set([...s.servers, ...s.needs ?? []]))
    for (const [name, start] of Object.entries(suite.servers)) if (needs.some(n => n.has(name))) ctx.servers[name] = await start(ctx)
    for (const [i, scenario] of scenarios.entries()) {
      log(`${scenario.name}:`)
      const started = Date.now()
      ctx.current = scenario
      const prepared = await scenario.prepare?.(ctx)
      const run = () => scenario.run !== undefined ? scenario.run(ctx, prepared) : ctx.runPlan(scenario, { prepared })
      await (suite.aroundScenario === undefined ? run() : suite.aroundScenario(ctx, scenario, run))
      for (const name of needs[i]) if (!needs.slice(i + 1).some(n => n.has(name))) await ctx.stopServer(ctx.servers[name])
      phases.push({ phase: scenario.name, seconds: (Date.now() - started) / 1000 })
    }
    await suite.finish?.(ctx)
    logs = knobs.logTo === 'file' ? await summarizeLogs(ctx.logFiles) : undefined
    if (knobs.cpuProf) {
      // The servers a scenario started itself (events, webhooks, conversations) are still up.
      await ctx.stopChildren()
      profiles = summarizeProfiles(join(ctx.dir, 'cpu-prof'), ctx.answered, log)
    }
  } finally {
    await ctx.cleanup()
  }

  const { table, verdicts } = judge(ctx, scenarios)
  const totalSeconds = (Date.now() - startedAt.getTime()) / 1000
  log([
    '',
    `${suite.title} ${startedAt.toISOString()}: ${machine.cpus} × ${machine.model}, node ${machine.node}, ${wrkVersion}`,
    loadLine(knobs, scenarios),
    ...table,
    ...ctx.runs.length === 0 ? [] : ['cpu µs/req: CPU time of the server process per answered request (of which in the kernel); ratios: the gateway to the baseline named, in this run'],
    ...ctx.footer,
    `time: ${phases.map(p => `${p.phase} ${p.seconds.toFixed(0)} s`).join(', ')}; ${(totalSeconds / 60).toFixed(1)} min in all`,
    ...invalidLines(ctx.runs),
    ...logLines(logs),
  ].join('\n'))
  const file = writeResults(root, {
    benchmark: 'timgate',
    suite: suite.name,
    date: startedAt.toISOString(),
    machine,
    settings: { ...knobs, pgUrl: knobs.pgUrl.replace(/:[^:@/]*@/, ':***@'), targets: Object.fromEntries(scenarios.filter(s => s.target !== undefined).map(s => [s.name, s.target])) },
    scenarios: verdicts,
    derived: ctx.derived,
    runs: ctx.runs,
    phases,
    totalSeconds,
    logs,
    profiles,
    loadavgAtEnd: rounded(loadavg()),
    ...ctx.output,
  })
  log(`wrote ${file}`)
}

await main()
