// Starts a compiled entry point (`node scripts/run.mjs src/server [args…]`), building first
// only when dist/ is missing or older than a source file: `npm start` takes a second, not
// the 20–30 s of a compile, and a bad setting shows its one line at once. `--build-only`
// builds when needed and exits (the `prepare` script: npm install builds once).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import process from 'node:process'
import { fileURLToPath, pathToFileURL, URL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stamp = join(root, 'dist', '.tsbuildinfo')
const SOURCES = ['src', 'routes', 'db', 'scripts']

/** The newest modification time under `dir` of a file that the build reads. */
function newest (dir) {
  let t = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) t = Math.max(t, newest(path))
    else if (/\.(ts|sql|json)$/.test(entry.name)) t = Math.max(t, statSync(path).mtimeMs)
  }
  return t
}

function buildIfStale () {
  if (!SOURCES.every(d => existsSync(join(root, d)))) return
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0
  const sources = Math.max(...SOURCES.map(d => newest(join(root, d))), statSync(join(root, 'tsconfig.json')).mtimeMs)
  if (sources <= built) return
  process.stderr.write('timgate: compiling the TypeScript sources (once, after each change)…\n')
  // The npm that runs this script (npm start), else the one on PATH.
  const npm = process.env.npm_execpath
  const r = npm === undefined
    ? spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync(process.execPath, [npm, 'run', '-s', 'build'], { cwd: root, stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
  // An incremental build with nothing to do leaves the stamp as it was.
  const now = new Date()
  utimesSync(stamp, now, now)
}

const [entry, ...args] = process.argv.slice(2)
buildIfStale()
if (entry === undefined || entry === '--build-only') process.exit(0)
const file = join(root, 'dist', `${entry}.js`)
process.argv = [process.argv[0], file, ...args]
await import(pathToFileURL(file).href)
