// One suite, two stores: runs tap on SQLite, then the files whose outcome depends on the
// store again on PostgreSQL (TIMGATE_TEST_PG, by default the local server), where
// test/helper.ts gives every test a fresh schema; then one coverage report of both halves,
// which fails the run below the floors in .taprc. The PostgreSQL half is skipped, saying so,
// when no server answers at the default address; a TIMGATE_TEST_PG that was set on purpose
// and does not answer fails the run instead. Arguments go to tap (npm test --
// test/messages/list.test.ts); the PostgreSQL half leaves out the store-independent files
// among them. Exit code: 0 when every half that ran passed and the merged coverage is at or
// above the floors.
//
// With --compiled (npm test), tsc first compiles the project and its tests into .tap-build/
// (tsconfig.tap-build.json: this is also the typecheck, and a type error stops the run), and
// tap runs the compiled test files instead of the .ts through its TypeScript loader (ts-node),
// which costs each test process, and each server process a test starts, a second or more.
// Source maps take coverage back to the .ts files. Test files are still named by their .ts.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { delimiter, dirname, join, relative, sep } from 'node:path'
import process from 'node:process'
import { createInterface } from 'node:readline'
import { fileURLToPath, URL } from 'node:url'
import pg from 'pg'

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/test'
const root = fileURLToPath(new URL('..', import.meta.url))
const given = process.env.TIMGATE_TEST_PG
const pgUrl = given !== undefined && given !== '' ? given : DEFAULT_PG

/**
 * Test files whose outcome cannot depend on the store, each with why: they run in the
 * SQLite half only. Every other file runs in both halves, so a new file is tested on both
 * stores until it is listed here. A file belongs here when what it checks is decided before
 * or outside the store (configuration, sockets, hooks that answer before any route, the
 * upstream of a download) or when it never uses the suite's store at all.
 */
const STORE_INDEPENDENT = new Map([
  ['test/config.test.ts', 'loadConfig, and server processes that exit on a bad variable before opening a store'],
  ['test/server.test.ts', 'its server processes always run on their own SQLite data dir: the PostgreSQL half ran the same thing again'],
  ['test/shutdown.test.ts', 'its server processes always run on their own SQLite data dir (it checks the SQLite WAL), like test/server.test.ts'],
  ['test/openapi.test.ts', 'the OpenAPI document against the route schemas; the generated SDK\'s send/list/find is a smoke test of the document (the store\'s side is in test/messages)'],
  ['test/openapi-document.test.ts', 'how route schemas become the OpenAPI document, on synthetic documents'],
  ['test/openapi-sdks.test.ts', 'SDKs generated from the committed document (hey-api, openapi-typescript-codegen) driven against a live server: a test of the document, the store\'s side is in test/messages and test/media'],
  ['test/request-timeouts.test.ts', 'socket-level timeouts and malformed requests, answered before any route runs'],
  ['test/rate-limit.test.ts', 'token-bucket arithmetic on an injected clock, in a hook before any route'],
  ['test/media/download-limits.test.ts', 'download concurrency slots and rate, in hooks around the download routes'],
  ['test/media/refused.test.ts', 'the address guard refuses element URLs before any connection'],
  ['test/media/remote.test.ts', 'proxying remote origins (headers, redirects, timeouts, size caps); finding an element by its URL is in test/media/download.test.ts'],
  ['test/media/restart.test.ts', 'half-received uploads in the data dir, and a SQLite migration (skipped on PostgreSQL)'],
  ['test/docs.test.ts', 'the generated parts of docs/ against the error catalogue'],
  ['test/startup.test.ts', 'server processes that stop on a bad HOST, PORT or DATABASE_URL before serving; its DATABASE_URL cases name their own'],
  ['test/pressure/heavy.test.ts', 'heavy requests admitted or refused in a hook, on their headers, before the body or any store is reached'],
  ['test/media/sniff.test.ts', 'the kind of an upload from its first bytes or ?content_type=; uploads live in the data dir, not the store'],
  ['test/media/slow-origin.test.ts', 'the remote fetcher cutting slow origins, and download slots'],
])

const say = (line) => process.stdout.write(`${line}\n`)

const BUILD = '.tap-build'
const TSCONFIG = 'tsconfig.tap-build.json'
/** The folders of .ts files that tsconfig.json compiles (test/generated/ aside): their .js must be in BUILD after tsc. */
const COMPILED = ['src', 'routes', 'db', 'scripts', 'test']
/**
 * What the compiled code reads beside itself (the migrations) or at the root of its tree
 * (scripts/openapi.ts, scripts/docs.ts): linked into BUILD, so that an edit shows at once.
 */
const LINKED = ['db/sqlite/migrations', 'db/postgres/migrations', 'openapi', 'docs']

/** The URL without its password, for messages. */
function shown (url) {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '(an unparsable URL)'
  }
}

/** undefined when a server answers at `url`, else why not. */
async function unreachable (url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 })
  client.on('error', () => {})
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (err) {
    return err.message || err.code || String(err)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Every test/**\/*.test.ts (what .taprc includes), relative to the root with forward slashes. */
function testFiles (dir = join(root, 'test')) {
  return readdirSync(dir).sort().flatMap(name => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return testFiles(path)
    return name.endsWith('.test.ts') ? [relative(root, path).split(sep).join('/')] : []
  })
}

/** The .ts files under `dir` (a folder of the root) that tsc compiles to a .js, relative to the root. */
function sources (dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap(entry => {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory()) return path === 'test/generated' ? [] : sources(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

/** Where the compiled twin of `file` (a .ts named from the root) is. */
const built = (file) => `${BUILD}/${file.replace(/\.ts$/, '.js')}`

/** Runs tsc on TSCONFIG; resolves with whether it passed. */
function tsc () {
  const child = spawn(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', TSCONFIG], { cwd: root, stdio: 'inherit' })
  return new Promise(resolve => child.on('close', code => resolve(code === 0)))
}

/**
 * Compiles into BUILD and links LINKED there; resolves with whether tsc passed. An
 * incremental tsc does not write again a .js that was deleted since its last run: when one
 * is missing, it compiles once more from scratch.
 */
async function compile () {
  if (!await tsc()) return false
  const missing = COMPILED.flatMap(sources).filter(f => !existsSync(join(root, built(f))))
  if (missing.length > 0) {
    say(`${BUILD}/ lacks ${missing.length} compiled files (${missing.slice(0, 3).join(', ')}…): compiling again from scratch`)
    rmSync(join(root, BUILD), { recursive: true, force: true })
    if (!await tsc()) return false
  }
  for (const path of LINKED) {
    const link = join(root, BUILD, path)
    rmSync(link, { recursive: true, force: true })
    mkdirSync(dirname(link), { recursive: true })
    symlinkSync(relative(dirname(link), join(root, path)), link)
  }
  return true
}

/**
 * Collects each failed test from TAP output, line by line: the names of the subtests it sits
 * in, its own line and its diagnostic block (cut at 40 lines), so that the end of a long run
 * names every failure even when only the last screen of the log is read. A failed subtest's
 * parents fail with it; `leaves()` leaves them out.
 */
class Failures {
  /** @type {{ path: string[], lines: string[] }[]} */
  #all = []
  /** Names of the subtests the current line sits in, outermost first. */
  #path = []
  /** The failure whose diagnostic block is being read, and its depth. */
  #open
  #depth = 0

  /** @param {string} line */
  feed (line) {
    const indent = line.length - line.trimStart().length
    const depth = Math.floor(indent / 4)
    const text = line.trim()
    if (this.#open !== undefined) {
      const ended = text === '...'
      if (ended || (indent <= this.#depth * 4 && text !== '---')) {
        this.#open = undefined
        if (ended) return
      } else {
        if (this.#open.lines.length < 40) this.#open.lines.push(line)
        return
      }
    }
    const subtest = /^# Subtest: (.*)$/.exec(text)
    if (subtest !== null) {
      this.#path.length = depth
      this.#path[depth] = subtest[1]
    } else if (/^not ok \d+/.test(text) && !/# (TODO|SKIP)/i.test(text)) {
      const name = text.replace(/^not ok \d+( - )?/, '').replace(/ # time=[\d.]+m?s$/, '')
      this.#open = { path: [...this.#path.slice(0, depth), name], lines: [line] }
      this.#depth = depth
      this.#all.push(this.#open)
    }
  }

  /** The failures none of whose subtests failed, each as its lines, headed by its path. */
  leaves () {
    const parent = (f) => this.#all.some(g => g.path.length > f.path.length &&
      f.path.every((name, i) => g.path[i] === name))
    return this.#all.filter(f => !parent(f))
      .map(f => [f.path.slice(0, -1).join(' > '), ...f.lines])
  }
}

/**
 * Runs tap with `args` and `env`; resolves with its exit code, the seconds it took and the
 * failures it printed. With `drop`, stdout lines that match are not shown.
 */
function tap (args, env, drop) {
  const started = Date.now()
  const bin = join(root, 'node_modules', '.bin')
  const child = spawn('tap', args, {
    cwd: root,
    stdio: ['inherit', 'pipe', 'inherit'],
    env: { ...env, PATH: `${bin}${delimiter}${env.PATH ?? ''}` },
  })
  const failures = new Failures()
  createInterface({ input: child.stdout }).on('line', line => {
    failures.feed(line)
    if (drop === undefined || !drop.test(line)) say(line)
  })
  return new Promise(resolve => child.on('close', (code, signal) => resolve({
    ok: code === 0,
    code: code ?? signal,
    seconds: Math.round((Date.now() - started) / 1000),
    failures: failures.leaves(),
  })))
}

const stale = [...STORE_INDEPENDENT.keys()].filter(f => !existsSync(join(root, f)))
if (stale.length > 0) {
  say(`scripts/test-both.mjs lists store-independent files that do not exist: ${stale.join(', ')}`)
  process.exit(1)
}

// Arguments that name test files choose the files; the rest are tap options for both halves.
const compiled = process.argv.includes('--compiled')
const args = process.argv.slice(2).filter(a => a !== '--compiled')
const isFile = (a) => !a.startsWith('-') && a.endsWith('.ts') && existsSync(join(root, a))
const named = args.filter(isFile).map(a => relative(root, join(root, a)).split(sep).join('/'))
const candidates = named.length > 0 ? named : testFiles()
const pgFiles = candidates.filter(f => !STORE_INDEPENDENT.has(f))
const sqliteOnly = candidates.length - pgFiles.length
// Compiled, every file is named (.taprc includes the .ts); the TypeScript loader stays off
// in the test processes (@tapjs/typescript reads TAP_TYPE_STRIP_ONLY), and the compiled
// tests and their fixtures stay out of the coverage, as the .ts ones are by their path.
const options = [
  ...(compiled ? ['--test-env=TAP_TYPE_STRIP_ONLY=1', `--coverage-exclude=${BUILD}/test/**/*.js`] : []),
  ...args.filter(a => !isFile(a)),
]
const files = (list) => compiled ? list.map(built) : list
const sqliteFiles = files(compiled && named.length === 0 ? candidates : named)

// Each half records coverage but neither reports nor judges it (floors 0, so no "incomplete
// coverage" line for a half); the merged report after both judges it against .taprc.
const floorsOff = ['--statements=0', '--branches=0', '--functions=0', '--lines=0']
const half = ['--coverage-report=none', ...floorsOff]
const coverage = join(root, '.tap', 'coverage')
const kept = join(root, '.tap', 'coverage-sqlite')

const summary = []
let failed = false

if (compiled) {
  say(`\n=== compiling into ${BUILD}/ (${TSCONFIG}) ===`)
  const started = Date.now()
  const ok = await compile()
  const seconds = Math.round((Date.now() - started) / 1000)
  if (!ok) {
    say(`\nCompile: FAILED in ${seconds} s (above); no test ran`)
    process.exit(1)
  }
  summary.push(`Compile: passed in ${seconds} s`)
}

const sqliteEnv = { ...process.env }
delete sqliteEnv.TIMGATE_TEST_PG
say('\n=== timgate tests on SQLite ===')
const sqlite = await tap([...half, ...options, ...sqliteFiles], sqliteEnv)
summary.push(`SQLite half: ${sqlite.ok ? 'passed' : `FAILED (tap exit ${sqlite.code})`} in ${sqlite.seconds} s`)
failed ||= !sqlite.ok

// tap empties .tap/coverage when it starts: the SQLite half's files wait aside.
rmSync(kept, { recursive: true, force: true })
if (existsSync(coverage)) renameSync(coverage, kept)

const why = await unreachable(pgUrl)
let pgRan = false
let postgres
if (pgFiles.length === 0) {
  summary.push('PostgreSQL half skipped: every named file is store-independent (scripts/test-both.mjs)')
} else if (why === undefined) {
  say(`\n=== timgate tests on PostgreSQL at ${shown(pgUrl)}: ${pgFiles.length} files that depend on the store ===`)
  postgres = await tap([...half, ...options, ...files(pgFiles)], { ...process.env, TIMGATE_TEST_PG: pgUrl })
  summary.push(`PostgreSQL half: ${postgres.ok ? 'passed' : `FAILED (tap exit ${postgres.code})`} in ${postgres.seconds} s (${sqliteOnly} store-independent files ran on SQLite only)`)
  failed ||= !postgres.ok
  pgRan = true
} else if (given !== undefined && given !== '') {
  summary.push(`PostgreSQL half: FAILED: TIMGATE_TEST_PG is set but no server answers at ${shown(pgUrl)} (${why})`)
  failed = true
} else {
  summary.push(`PostgreSQL half skipped: no server at ${shown(pgUrl)} (${why}); set TIMGATE_TEST_PG to a postgres:// URL to run it`)
}

// Both halves' coverage in one directory, then one report against the floors in .taprc.
// .taprc allows incomplete coverage, for partial runs (one file, one store); the whole suite
// on both stores is held to the floors here. A run of named files, or one without the
// PostgreSQL half (whose code it then never ran), is reported but not judged.
const gate = named.length === 0 && pgRan
mkdirSync(coverage, { recursive: true })
if (existsSync(kept)) {
  for (const name of readdirSync(kept)) renameSync(join(kept, name), join(coverage, name))
  rmSync(kept, { recursive: true, force: true })
}
say('\n=== coverage of both halves ===')
// `tap report` also prints an empty TAP run around the summary ("1..0 # no tests found"),
// which would read as if no test had run: those lines are left out.
const emptyRun = /^(TAP version \d+|1\.\.0( #.*)?|# \{ total: 0, pass: 0 \}|# time=[\d.]+ms)$/
const report = await tap(['report', 'text-summary', ...(gate ? ['--no-allow-incomplete-coverage'] : floorsOff)], process.env, emptyRun)
summary.push(!gate
  ? `Coverage: reported, not judged (${named.length > 0 ? 'named files are a partial run' : 'without the PostgreSQL half'})`
  : `Coverage of both halves: ${report.ok ? 'at or above the floors in .taprc' : `BELOW the floors in .taprc (tap report exit ${report.code})`}`)
failed ||= !report.ok

say('')
const failures = [['SQLite', sqlite.failures], ...(postgres === undefined ? [] : [['PostgreSQL', postgres.failures]])]
for (const [store, list] of failures) {
  if (list.length === 0) continue
  say(`=== ${list.length} failed on ${store} ===`)
  for (const lines of list) for (const line of lines) say(line)
  say('')
}
for (const line of summary) say(line)
process.exit(failed ? 1 : 0)
