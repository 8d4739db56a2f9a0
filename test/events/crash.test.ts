import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Env } from '../../src/config.js'
import { signUserSig } from '../../src/auth/usersig.js'
import { freePort, tempDir, testDatabaseUrl } from '../helper.js'
import { alive, exitWithin, start, waitHealthy } from '../fixtures/process.js'
import { stream } from '../fixtures/sse.js'

/** Sends acknowledged before the kill: a count, not a duration (a busy machine acknowledges fewer per second). */
const ACKS_BEFORE_KILL = 100
const CONCURRENCY = 8

interface Listed { message_msg_id: string }

/** The child processes of `pid` (the gateway's: its event stream process). */
function childrenOf (pid: number): number[] {
  const out: number[] = []
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/)) if (child !== '') out.push(Number(child))
  }
  return out
}

t.test('when the gateway is killed with SIGKILL while sends stream out, then a stream resumed on the restarted one gets every event it had not seen, once, and only of stored messages', async t => {
  const dataDir = tempDir(t)
  // On the PostgreSQL half both processes use one fresh schema; else SQLite in dataDir.
  const databaseUrl = testDatabaseUrl(t)
  const env: Env = {
    TIM_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    TIM_RATE_LIMIT: '0',
    LOG_LEVEL: 'warn',
    TS_NODE_TRANSPILE_ONLY: '1',
    ...(databaseUrl !== undefined && { DATABASE_URL: databaseUrl }),
  }
  const up = async () => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const child = start(t, ['src/server.ts'], { ...env, PORT: String(port) })
    t.ok(await waitHealthy(base, child, 60_000), `the gateway came up; stderr: ${child.stderr()}`)
    return { base, child }
  }

  const first = await up()
  const secret = JSON.parse(readFileSync(join(dataDir, 'secret.json'), 'utf8')) as { sdkappid: number, secret_key: string }
  const as = (user: string) => ({ authorization: `Bearer ${signUserSig(secret.sdkappid, secret.secret_key, user, 3600)}` })

  // The gateway's event stream process serves the streams (TIM_EVENTS_PROCESS's default).
  const [streamer] = childrenOf(first.child.proc.pid!)
  t.ok(streamer !== undefined, 'the gateway runs its event stream process')
  const before = stream(t, `${first.base}/events`, as('bob'))
  // Open through the kill: it ends with the gateway (its process goes with it).
  const held = stream(t, `${first.base}/events`, as('carol'))
  await Promise.all([before.opened, held.opened])
  const acked = new Set<string>()
  let stop = false
  let n = 0
  const sender = async () => {
    while (!stop) {
      try {
        const res = await fetch(`${first.base}/conversations/c2c_bob/messages`, {
          method: 'POST',
          headers: { ...as('alice'), 'content-type': 'application/json' },
          body: JSON.stringify({ message_elem_array: [{ elem_type: 0, text_elem_content: `m${n++}` }] }),
          signal: AbortSignal.timeout(10_000),
        })
        const body = await res.json() as { message_msg_id: string }
        if (res.status === 200) acked.add(body.message_msg_id)
      } catch {
        return // in flight when the gateway died: not acknowledged
      }
    }
  }
  const senders = Array.from({ length: CONCURRENCY }, sender)
  // The reader goes away after a few events; the sends go on, and the gateway dies under them.
  await before.wait(10, 60_000)
  before.close()
  const seen = before.events.map(e => e.id)
  const lastSeen = seen.at(-1)!
  const deadline = Date.now() + 60_000
  while (acked.size < ACKS_BEFORE_KILL && Date.now() < deadline) await sleep(10)
  first.child.proc.kill('SIGKILL')
  t.not(await exitWithin(first.child, 10_000), 'timeout', 'the gateway died on SIGKILL')
  for (let i = 0; i < 500 && (alive(streamer!) || held.source.readyState !== held.source.CLOSED); i++) await sleep(20)
  t.notOk(alive(streamer!), 'the event stream process exits when the gateway dies')
  t.notMatch(first.child.stderr(), /event stream process|ERR_IPC/, 'and ends its streams as it means to, not by a crash')
  t.equal(held.source.readyState, held.source.CLOSED, 'a stream open at the kill ends: its client resumes elsewhere')
  stop = true
  await Promise.all(senders)
  t.ok(acked.size >= ACKS_BEFORE_KILL, `traffic was flowing: ${acked.size} acknowledged, ${seen.length} events seen before the reader left`)

  const second = await up()
  // Every stored message of the thread, as the restarted gateway lists it.
  const stored = new Set<string>()
  for (let anchor: string | undefined, page = 0; page < 100; page++) {
    const qs = new URLSearchParams({ count: '100', is_forward: 'true', ...(anchor !== undefined && { last_msg_id: anchor }) })
    const res = await fetch(`${second.base}/conversations/c2c_alice/messages?${qs.toString()}`, { headers: as('bob') })
    const batch = await res.json() as Listed[]
    if (!Array.isArray(batch)) throw new Error(`listing the thread on the restarted gateway: ${res.status} ${JSON.stringify(batch)}`)
    for (const m of batch) stored.add(m.message_msg_id)
    if (batch.length < 100) break
    anchor = batch.at(-1)!.message_msg_id
  }
  const seenMsgs = before.events.map(e => e.data.event_data.message_msg_id as string)
  const owed = [...stored].filter(id => !seenMsgs.includes(id))
  t.ok(owed.length > 0, `the reader missed ${owed.length} stored messages`)

  const resumed = stream(t, `${second.base}/events`, as('bob'), lastSeen)
  const missed = await resumed.wait(owed.length, 60_000)
  await sleep(300)
  const got = resumed.events.map(e => e.data.event_data.message_msg_id as string)
  t.equal(resumed.events.length, owed.length, `${owed.length} events owed, no more`)
  t.same([...got].sort(), [...owed].sort(), 'exactly the stored messages it had not seen')
  t.same(got.filter(id => seenMsgs.includes(id)), [], 'none it had seen comes again')
  t.same([...acked].filter(id => !seenMsgs.includes(id) && !got.includes(id)), [], 'every acknowledged message reached it')
  t.ok(missed.every((e, i) => i === 0 ? Number(e.id) > Number(lastSeen) : Number(e.id) > Number(missed[i - 1]!.id)), 'ids go on increasing after the last seen')
  second.child.proc.kill('SIGTERM')
  t.not(await exitWithin(second.child, 10_000), 'timeout', 'the restarted gateway stops on SIGTERM')
})
