import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { buildApp } from '../src/app.js'
import { ConfigError, loadConfig, type Env } from '../src/config.js'
import { CONFIG_VARS, freePort, tempDir, type TestContext } from './helper.js'
import { nodeArgs } from './fixtures/entry.js'

/**
 * CONTRACT §2: a HOST that does not resolve, a PORT already in use or a DATABASE_URL that
 * cannot be reached stops start-up with one line naming the variable, like a bad value.
 */

interface Exit { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/** src/server.ts as a process, the way tap runs this file (fixtures/entry.ts), killed after `ms`. */
function runServer (t: TestContext, env: Env, ms: number): Promise<Exit> {
  const base: Env = { ...process.env }
  for (const name of CONFIG_VARS) delete base[name]
  const child = spawn(process.execPath, nodeArgs(['src/server.ts']), { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const timer = setTimeout(() => child.kill('SIGKILL'), ms)
  return new Promise(resolve => child.on('close', (code, signal) => {
    clearTimeout(timer)
    resolve({ code, signal, stdout, stderr })
  }))
}

/** A TCP server on 127.0.0.1 that accepts connections and never says a word; closed after the test. */
async function tcpServer (t: TestContext): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer(socket => {
    socket.on('error', () => {})
    sockets.add(socket)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    server.close(() => resolve())
    for (const socket of sockets) socket.destroy()
  }))
  return (server.address() as AddressInfo).port
}

const PASSWORD = 's3cret-pw'

t.test('when the server cannot listen or reach its database, then it exits non-zero with one line on stderr naming HOST, PORT or DATABASE_URL', async t => {
  const takenPort = await tcpServer(t)
  const closedPort = await freePort()
  const cases: Array<[string, string, Env, string]> = [
    ['a HOST that does not resolve', 'HOST', { HOST: 'no-such-host.invalid', PORT: '0' }, 'no-such-host.invalid'],
    ['a PORT in use', 'PORT', { HOST: '127.0.0.1', PORT: String(takenPort) }, String(takenPort)],
    ['a DATABASE_URL refusing connections', 'DATABASE_URL', { PORT: '0', DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:${closedPort}/test` }, `127.0.0.1:${closedPort}`],
  ]
  // In parallel: each start compiles the TypeScript again, slowly on a busy machine.
  const runs = await Promise.all(cases.map(([, , env]) => runServer(t, { TIM_DATA_DIR: tempDir(t), LOG_LEVEL: 'silent', ...env }, 100_000)))
  cases.forEach(([what, name, , detail], i) => {
    const run = runs[i]!
    t.equal(run.signal, null, `${what}: exited by itself`)
    t.not(run.code, 0, `${what}: non-zero exit`)
    t.not(run.code, null, `${what}: an exit code`)
    const lines = run.stderr.split('\n').filter(l => l.trim() !== '')
    t.equal(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(run.stderr)}`)
    t.match(lines[0] ?? '', new RegExp(`^timgate: ${name} `), `${what}: the line names ${name}`)
    t.match(lines[0] ?? '', detail, `${what}: and what it was`)
    t.notMatch(lines[0] ?? '', /\bat \S+:\d+/, `${what}: no stack trace`)
    t.notOk(run.stderr.includes(PASSWORD) || run.stdout.includes(PASSWORD), `${what}: the password is never printed`)
  })
})

t.test('when DATABASE_URL points at a server that accepts connections and never answers, then opening gives up with a ConfigError naming it', async t => {
  const mutePort = await tcpServer(t)
  const config = loadConfig({ TIM_DATA_DIR: tempDir(t), LOG_LEVEL: 'silent', DATABASE_URL: `postgresql://timgate:${PASSWORD}@127.0.0.1:${mutePort}/test?schema=s` })
  // Fastify's own plugin timeout (10 s) would end it otherwise, with a stack that names no variable.
  const err = await buildApp({ config }).then(app => app.close().then(() => 'started'), (e: unknown) => e)
  t.type(err, ConfigError)
  t.match(String((err as Error).message), /^DATABASE_URL postgresql:\/\/timgate@127\.0\.0\.1:\d+\/test cannot be reached: no answer within 5000 ms$/)
  t.notOk(String((err as Error).message).includes(PASSWORD), 'no password')
  t.notOk(String((err as Error).message).includes('schema'), 'no query string')
})
