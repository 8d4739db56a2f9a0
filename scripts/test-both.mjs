// One suite, two stores: runs tap on SQLite, then again on PostgreSQL (TIMGATE_TEST_PG, by
// default the local server), where test/helper.ts gives every test a fresh schema. The
// PostgreSQL half is skipped, saying so, when no server answers at the default address;
// a TIMGATE_TEST_PG that was set on purpose and does not answer fails the run instead.
// Arguments go to tap (npm test -- test/messages/list.test.ts). Exit code: 0 when every
// half that ran passed.
import { spawn } from 'node:child_process'
import { delimiter, join } from 'node:path'
import process from 'node:process'
import { fileURLToPath, URL } from 'node:url'
import pg from 'pg'

const DEFAULT_PG = 'postgres://postgres@127.0.0.1:5432/test'
const root = fileURLToPath(new URL('..', import.meta.url))
const given = process.env.TIMGATE_TEST_PG
const pgUrl = given !== undefined && given !== '' ? given : DEFAULT_PG

const say = (line) => process.stdout.write(`${line}\n`)

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

/** Runs tap with `env`; resolves with its exit code and the seconds it took. */
function tap (env) {
  const started = Date.now()
  const bin = join(root, 'node_modules', '.bin')
  const child = spawn('tap', process.argv.slice(2), {
    cwd: root,
    stdio: 'inherit',
    env: { ...env, PATH: `${bin}${delimiter}${env.PATH ?? ''}` },
  })
  return new Promise(resolve => child.on('close', (code, signal) => resolve({
    ok: code === 0,
    code: code ?? signal,
    seconds: Math.round((Date.now() - started) / 1000),
  })))
}

const summary = []
let failed = false

const sqliteEnv = { ...process.env }
delete sqliteEnv.TIMGATE_TEST_PG
say('\n=== timgate tests on SQLite ===')
const sqlite = await tap(sqliteEnv)
summary.push(`SQLite half: ${sqlite.ok ? 'passed' : `FAILED (tap exit ${sqlite.code})`} in ${sqlite.seconds} s`)
failed ||= !sqlite.ok

const why = await unreachable(pgUrl)
if (why === undefined) {
  say(`\n=== timgate tests on PostgreSQL at ${shown(pgUrl)} ===`)
  const postgres = await tap({ ...process.env, TIMGATE_TEST_PG: pgUrl })
  summary.push(`PostgreSQL half: ${postgres.ok ? 'passed' : `FAILED (tap exit ${postgres.code})`} in ${postgres.seconds} s`)
  failed ||= !postgres.ok
} else if (given !== undefined && given !== '') {
  summary.push(`PostgreSQL half: FAILED: TIMGATE_TEST_PG is set but no server answers at ${shown(pgUrl)} (${why})`)
  failed = true
} else {
  summary.push(`PostgreSQL half skipped: no server at ${shown(pgUrl)} (${why}); set TIMGATE_TEST_PG to a postgres:// URL to run it`)
}

say('')
for (const line of summary) say(line)
process.exit(failed ? 1 : 0)
