import t from 'tap'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { build, freshSchema, text, type TestContext } from '../helper.js'
import { tcpProxy } from '../fixtures/tcp-proxy.js'

/** A small tmpfs of its own (needs root, as CI and these machines have); undefined where it cannot be mounted. */
function smallDisk (t: TestContext, size: string): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'timgate-disk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
  t.teardown(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** Fills the disk of `dir` to the last byte with one file; removing it frees the space. */
function fill (dir: string): string {
  const file = join(dir, 'filler')
  const fd = openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024, 1)
  try {
    for (let size = chunk.length; size >= 1;) {
      try {
        writeSync(fd, chunk, 0, size)
      } catch {
        size = Math.floor(size / 2)
      }
    }
  } finally {
    closeSync(fd)
  }
  return file
}

const pgUrl = process.env.TIMGATE_TEST_PG

/** Whether this process may mount a tmpfs (root may: CI and these machines run as root). */
function mayMount (): boolean {
  const probe = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }
  const cleanups: Array<() => unknown> = []
  const ok = smallDisk(probe, '1m') !== undefined
  for (const fn of cleanups) fn()
  return ok
}

t.test('when the disk of the data dir is full, then writes answer 507 with Retry-After, /health 503 names it, and both clear when space comes back', {
  skip: mayMount() ? false : 'cannot mount a tmpfs here (not root): a full disk cannot be made',
}, async t => {
  const dir = smallDisk(t, '8m')
  if (dir === undefined) throw new Error('the tmpfs could not be mounted')
  const g = await build(t, { TIM_DATA_DIR: dir })
  const acked: string[] = []
  for (let i = 0; i < 5; i++) acked.push((await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`before ${i}`))).json().message_msg_id)
  const filler = fill(dir)

  // An upload needs room on any store; a message needs it where the data dir holds the database.
  const upload = await g.app.inject({ method: 'POST', url: '/media', headers: { ...g.as('alice'), 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(256 * 1024, 7) })
  t.equal(upload.statusCode, 507, upload.body)
  t.match(upload.json(), { code: 6022, desc: /storage is full/ })
  t.equal(upload.headers['retry-after'], '10')
  if (g.app.store.kind === 'sqlite') {
    // The WAL reuses what it has written before it must grow: the first writes may still fit.
    let res
    for (let i = 0; i < 2000; i++) {
      res = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`during ${i} ${'z'.repeat(8000)}`))
      if (res.statusCode !== 200) break
    }
    t.equal(res?.statusCode, 507, res?.body ?? 'no answer')
    t.match(res?.json(), { code: 6022, desc: /storage is full/ })
    t.equal(res?.headers['retry-after'], '10')
  }
  const health = await g.app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 503)
  t.match(health.json(), { code: 6022, desc: /storage is full/ })
  t.ok(health.headers['retry-after'])

  rmSync(filler)
  t.equal((await g.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'healthy again, without a restart')
  const after = await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('after'))
  t.equal(after.statusCode, 200)
  const listed = (await g.call('alice', 'GET', '/conversations/c2c_bob/messages?count=100')).json() as Array<{ message_msg_id: string }>
  for (const id of acked) t.ok(listed.some(m => m.message_msg_id === id), `acknowledged ${id} is kept`)
})

t.test('when PostgreSQL goes away, then requests answer 503 with Retry-After naming the database, and recover without a restart', { skip: pgUrl === undefined || pgUrl === '' ? 'PostgreSQL only: SQLite is a file of this process' : false }, async t => {
  const base = new URL(pgUrl!)
  const proxy = await tcpProxy(t, { host: base.hostname, port: Number(base.port || 5432) })
  const viaProxy = new URL(freshSchema(t, pgUrl!))
  viaProxy.hostname = '127.0.0.1'
  viaProxy.port = String(proxy.port)
  const g = await build(t, { DATABASE_URL: viaProxy.toString() })
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('before'))).statusCode, 200)

  proxy.cut()
  for (const [method, url, body] of [['POST', '/conversations/c2c_bob/messages', text('during')], ['GET', '/conversations/c2c_bob/messages', undefined]] as const) {
    const res = await g.call('alice', method, url, body)
    t.equal(res.statusCode, 503, `${method} ${url}: ${res.body}`)
    t.match(res.json(), { code: 6019, desc: /database is unavailable/ })
    t.equal(res.headers['retry-after'], '2')
  }
  const health = await g.app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 503)
  t.match(health.json(), { code: 6019, desc: /database is unavailable/ })

  proxy.restore()
  let status = 0
  for (let i = 0; i < 200 && status !== 200; i++) {
    status = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('after'))).statusCode
    if (status !== 200) await sleep(50)
  }
  t.equal(status, 200, 'recovered without a restart')
  t.equal((await g.app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
})
