import t from 'tap'
import { readFileSync } from 'node:fs'

// The image and compose.yaml cannot be built or run where the suite runs (no Docker
// engine): these are the checks that can be made by reading them, so that they do not
// drift from the build, the tested Node major and the server's shutdown grace.

const read = (path: string) => readFileSync(path, 'utf8')
const pkg = JSON.parse(read('package.json')) as { engines: { node: string }, scripts: { build: string } }
const dockerfile = read('Dockerfile')
const ignore = read('.dockerignore').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
const compose = read('compose.yaml')

t.test('when the image is built, then it is on the tested Node major, pinned to a version', async t => {
  // engines.node starts at the tested major: the image is on that one.
  const major = /^>=(\d+)\./.exec(pkg.engines.node)?.[1]
  t.ok(major, `engines.node names its lowest version: ${pkg.engines.node}`)
  const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1] ?? ''
  t.match(image, new RegExp(`^node:${major}\\.\\d+\\.\\d+-bookworm-slim$`), 'a full version tag')
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map(m => m[1])
  t.same(froms, ['${NODE_IMAGE}', '${NODE_IMAGE}'], 'both stages on it')
})

t.test('when the image is built, then the build stage has everything npm run build reads, and the context nothing else', async t => {
  const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] }
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(m => m[1]!.split(' '))
  for (const dir of build.include) {
    t.ok(copied.includes(dir), `COPY ${dir}`)
    t.ok(ignore.includes(`!${dir}/`), `.dockerignore lets ${dir}/ in`)
  }
  for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
    t.ok(copied.includes(file), `COPY ${file}`)
    t.ok(ignore.includes(`!${file}`), `.dockerignore lets ${file} in`)
  }
  // The build copies the migrations out of db/, which is copied whole.
  for (const m of pkg.scripts.build.matchAll(/cpSync\('([^']+)'/g)) t.ok(m[1]!.startsWith('db/'), `${m[1]} comes with db/`)
  t.equal(ignore[0], '*', 'the context is an allow-list')
  for (const secret of ['**/secret.json', '**/*.db', '**/node_modules', '**/.env']) t.ok(ignore.includes(secret), `${secret} never sent`)
})

t.test('when the container is stopped, then docker waits longer than the server\'s grace', async t => {
  const grace = Number(/closeWithGrace\(\{ delay: ([\d_]+)/.exec(read('src/server.ts'))?.[1]?.replace(/_/g, ''))
  t.ok(grace > 0, `the server's grace: ${grace} ms`)
  const period = /^\s+stop_grace_period: (\d+)s$/m.exec(compose)?.[1]
  t.ok(Number(period) * 1000 > grace, `compose stop_grace_period ${period}s`)
  t.match(dockerfile, /^STOPSIGNAL SIGTERM$/m)
  t.match(dockerfile, /^HEALTHCHECK --start-period=\d+s /m)
  t.match(compose, /condition: service_healthy/, 'the gateway waits for a healthy PostgreSQL')
  t.match(compose, /image: postgres:15\.\d+-bookworm/)
})
