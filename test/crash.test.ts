import t from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Env } from '../src/config.js'
import { signUserSig } from '../src/auth/usersig.js'
import { CONFIG_VARS, tempDir, testDatabaseUrl, freePort, type TestContext } from './helper.js'
import { nodeArgs } from './fixtures/entry.js'

/**
 * The traffic runs until this many sends are acknowledged (a count, not a duration: a busy
 * machine acknowledges fewer per second), then the server is killed with CONCURRENCY in flight.
 */
const ACKS_BEFORE_KILL = 500
const TRAFFIC_LIMIT_MS = 60_000
const CONCURRENCY = 20
/** The C2C threads written to: alice with each peer, from both ends. */
const PEERS = ['peer0', 'peer1', 'peer2', 'peer3', 'peer4']

interface Child {
  proc: ChildProcessWithoutNullStreams
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Starts the real server the way tap runs this file (fixtures/entry.ts); killed at teardown. */
function startServer (t: TestContext, env: Env): Child {
  const base: Env = { ...process.env }
  for (const name of CONFIG_VARS) delete base[name]
  const proc = spawn(process.execPath, nodeArgs(['src/server.ts']), {
    env: { ...base, TS_NODE_TRANSPILE_ONLY: '1', ...env },
  })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let stderr = ''
  proc.stdout.resume()
  proc.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    proc.on('close', (code, signal) => resolve({ code, signal }))
  })
  return { proc, stderr: () => stderr, exited }
}

/** Polls GET /health until 200, the process ends, or `ms` pass. */
async function waitHealthy (base: string, child: Child, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline && child.proc.exitCode === null) {
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.status === 200) return true
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  return false
}

/** The end of `child` within `ms`, else false. */
async function endedWithin (child: Child, ms: number): Promise<boolean> {
  const timer = new AbortController()
  const timeout = sleep(ms, false, { signal: timer.signal }).catch(() => false)
  const result = await Promise.race([child.exited.then(() => true), timeout])
  timer.abort()
  return result
}

interface Ack { peer: string, sender: string, msgId: string, seq: number, content: string }
interface Listed { message_msg_id: string, message_seq: number, message_status: number, message_elem_array: Array<{ elem_type: number, text_elem_content?: string }> }

t.test('when the server is killed with SIGKILL under concurrent sends, then every acknowledged message survives with its seq and no seq is missing', async t => {
  const dataDir = tempDir(t)
  // On the PostgreSQL half both server processes use one fresh schema; else SQLite in dataDir.
  const databaseUrl = testDatabaseUrl(t)
  const env: Env = {
    TIM_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    TIM_RATE_LIMIT: '0',
    LOG_LEVEL: 'warn',
    ...(databaseUrl !== undefined && { DATABASE_URL: databaseUrl }),
  }
  t.comment(`store: ${databaseUrl === undefined ? 'SQLite' : 'PostgreSQL'}`)

  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const first = startServer(t, { ...env, PORT: String(port) })
  const up = await waitHealthy(base, first, 60_000)
  t.ok(up, `the server came up; stderr: ${first.stderr()}`)
  if (!up) return

  const secret = JSON.parse(readFileSync(join(dataDir, 'secret.json'), 'utf8')) as { sdkappid: number, secret_key: string }
  const sigs = new Map<string, string>()
  for (const user of ['alice', ...PEERS]) sigs.set(user, signUserSig(secret.sdkappid, secret.secret_key, user, 3600))

  const acks: Ack[] = []
  let failures = 0
  const refusals: string[] = []
  let counter = 0
  let stop = false
  const worker = async (w: number) => {
    while (!stop) {
      const n = counter++
      const peer = PEERS[n % PEERS.length]!
      // Both ends write to the same thread: one seq counter per thread.
      const [sender, conv] = n % 3 === 0 ? [peer, 'alice'] : ['alice', peer]
      const content = `w${w}-n${n}`
      try {
        const res = await fetch(`${base}/conversations/c2c_${conv}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${sigs.get(sender)!}`, 'content-type': 'application/json' },
          body: JSON.stringify({ message_elem_array: [{ elem_type: 0, text_elem_content: content }] }),
          signal: AbortSignal.timeout(5000),
        })
        const body = await res.json() as { message_msg_id: string, message_seq: number }
        if (res.status === 200) acks.push({ peer, sender, msgId: body.message_msg_id, seq: body.message_seq, content })
        else refusals.push(`${res.status} ${JSON.stringify(body)}`)
      } catch {
        failures++
        // In flight when the process died: not acknowledged, so nothing to find.
        if (stop) return
      }
    }
  }
  const workers = Array.from({ length: CONCURRENCY }, (_, w) => worker(w))
  const trafficUntil = Date.now() + TRAFFIC_LIMIT_MS
  while (acks.length < ACKS_BEFORE_KILL && Date.now() < trafficUntil && first.proc.exitCode === null) await sleep(20)
  const ackedBeforeKill = acks.length
  first.proc.kill('SIGKILL')
  t.ok(await endedWithin(first, 10_000), 'the server died on SIGKILL')
  stop = true
  await Promise.race([Promise.all(workers), sleep(10_000)])
  t.ok(ackedBeforeKill > 50, `traffic was flowing when killed: ${ackedBeforeKill} acknowledged, ${acks.length} in all, ${failures} failed`)
  t.same(refusals.slice(0, 5), [], `no send was answered with anything but 200 (${refusals.length} were)`)
  t.comment(`${acks.length} acknowledged sends, ${failures} cut off or refused connections`)

  const port2 = await freePort()
  const base2 = `http://127.0.0.1:${port2}`
  const second = startServer(t, { ...env, PORT: String(port2) })
  const again = await waitHealthy(base2, second, 60_000)
  t.ok(again, `the server came back on the same data; stderr: ${second.stderr()}`)
  if (!again) return

  for (const peer of PEERS) {
    const listed: Listed[] = []
    let anchor: string | undefined
    for (let page = 0; page < 1000; page++) {
      const qs = new URLSearchParams({ count: '100', is_forward: 'true', ...(anchor !== undefined && { last_msg_id: anchor }) })
      const res = await fetch(`${base2}/conversations/c2c_${peer}/messages?${qs.toString()}`, {
        headers: { authorization: `Bearer ${sigs.get('alice')!}` },
        signal: AbortSignal.timeout(10_000),
      })
      const batch = await res.json() as Listed[]
      if (res.status !== 200) {
        t.fail(`GET history with ${peer} answered ${res.status}: ${JSON.stringify(batch)}`)
        break
      }
      listed.push(...batch)
      if (batch.length < 100) break
      anchor = batch[batch.length - 1]!.message_msg_id
    }

    const seqs = listed.map(m => m.message_seq)
    const expected = Array.from({ length: listed.length }, (_, i) => i + 1)
    t.same(seqs, expected, `thread with ${peer}: seqs are exactly 1..${listed.length}, in order, no gap and no repeat`)
    const broken = listed.filter(m => m.message_status !== 2 || m.message_elem_array.length !== 1 ||
      m.message_elem_array[0]!.elem_type !== 0 || typeof m.message_elem_array[0]!.text_elem_content !== 'string')
    t.same(broken, [], `thread with ${peer}: every visible message is whole`)

    const byId = new Map(listed.map(m => [m.message_msg_id, m]))
    const mine = acks.filter(a => a.peer === peer)
    const lost = mine.filter(a => byId.get(a.msgId)?.message_seq !== a.seq ||
      byId.get(a.msgId)?.message_elem_array[0]?.text_elem_content !== a.content)
    t.same(lost, [], `thread with ${peer}: all ${mine.length} acknowledged messages are found with their seq and content`)
    const maxAcked = Math.max(0, ...mine.map(a => a.seq))
    t.ok(listed.length >= maxAcked, `thread with ${peer}: ${listed.length} listed, highest acknowledged seq ${maxAcked}`)
  }

  second.proc.kill('SIGTERM')
  t.ok(await endedWithin(second, 10_000), 'the restarted server stops on SIGTERM')
})
