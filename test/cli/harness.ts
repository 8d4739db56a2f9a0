import type { Test } from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join, resolve } from 'node:path'
import { PassThrough } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Env } from '../../src/config.js'
import { importCommand } from '../../scripts/cli/import.js'
import { build, CONFIG_VARS, type TestApp, type TestContext } from '../helper.js'
import { nodeArgs } from '../fixtures/entry.js'
import { rawConnect, requestHead, type RawConnection } from '../fixtures/raw-http.js'

/**
 * For the tests of the commands in scripts/: run as a user runs them, as child processes.
 * timgate import runs against a gateway listening on a real port, sometimes through a
 * recording proxy that can hold an answer back (to kill the CLI after the gateway stored a
 * batch but before the CLI heard of it).
 */

export interface Child {
  proc: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/**
 * A TypeScript entry and its arguments, run the way tap runs this file (fixtures/entry.ts),
 * in `cwd` if given; killed at teardown.
 */
export function spawnEntry (t: TestContext, args: string[], env: Env = {}, cwd?: string): Child {
  const base: Env = { ...process.env }
  for (const name of [...CONFIG_VARS, 'TIMGATE_URL', 'TIMGATE_USERSIG']) delete base[name]
  // Elsewhere the TypeScript loader would not find the project's tsconfig by itself.
  if (cwd !== undefined) base.TS_NODE_PROJECT = resolve('tsconfig.json')
  const proc = spawn(process.execPath, nodeArgs(args), { env: { ...base, ...env }, ...(cwd !== undefined && { cwd }) })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  proc.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    proc.on('close', (code, signal) => resolve({ code, signal }))
  })
  return { proc, stdout: () => stdout, stderr: () => stderr, exited }
}

/**
 * `timgate import <args>` in this process, with `env` as its whole environment: for the
 * cases where being a process adds nothing (each child costs seconds of loader start-up).
 */
export async function importHere (args: string[], env: Env = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  stderr.setEncoding('utf8').on('data', (s: string) => { err += s })
  const code = await importCommand(args, env, { stdout, stderr })
  return { code, stdout: out, stderr: err }
}

/** `timgate <args>` (scripts/timgate.ts). */
export const cli = (t: TestContext, args: string[], env: Env = {}): Child => spawnEntry(t, ['scripts/timgate.ts', ...args], env)

/** Polls until `ok()`; false after `ms`. */
export async function until (ok: () => boolean, ms = 60_000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!ok()) {
    if (Date.now() > deadline) return false
    await sleep(20)
  }
  return true
}

export interface Gateway { g: TestApp, port: number, url: string, env: Env }

/** A whole gateway listening on 127.0.0.1; `env` lets the CLI sign as its admin. */
export async function gateway (t: Test, env: Env = {}): Promise<Gateway> {
  const g = await build(t, env)
  const url = await g.app.listen({ port: 0, host: '127.0.0.1' })
  return { g, port: Number(new URL(url).port), url, env: { TIM_DATA_DIR: g.config.dataDir } }
}

export interface Seen { method: string, url: string, key: string | undefined, bytes: number }

export interface Proxy {
  url: string
  /** Every request, in order of arrival. */
  seen: Seen[]
  imports: () => Seen[]
  /** Resolves when a held request has been answered by the gateway and its answer withheld. */
  held: Promise<void>
  /** Drops the held answer's connection. */
  release: () => void
}

/**
 * A proxy in front of `upstream` that records each request; when `hold(request)` is true it
 * forwards the request, waits for the whole answer, and keeps it back (the connection stays open).
 */
export async function proxy (t: Test, upstream: string, hold: (s: Seen, index: number) => boolean = () => false): Promise<Proxy> {
  const seen: Seen[] = []
  let heldRes: ServerResponse | undefined
  let onHeld = () => {}
  const held = new Promise<void>(resolve => { onHeld = resolve })
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', key: req.headers['idempotency-key'] as string | undefined, bytes: body.length }
      seen.push(s)
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name)) headers[name] = value
      }
      fetch(upstream + (req.url ?? ''), { method: req.method, headers, ...(body.length > 0 && { body }) }).then(async up => {
        const answer = Buffer.from(await up.arrayBuffer())
        if (hold(s, seen.length - 1)) {
          heldRes = res
          onHeld()
          return
        }
        const out: Record<string, string> = { 'content-type': up.headers.get('content-type') ?? 'application/json' }
        for (const name of ['retry-after', 'idempotent-replayed']) {
          const v = up.headers.get(name)
          if (v !== null) out[name] = v
        }
        res.writeHead(up.status, out).end(answer)
      }, () => res.destroy())
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    url: `http://127.0.0.1:${address.port}`,
    seen,
    imports: () => seen.filter(s => s.method === 'POST' && s.url.endsWith('/messages/import') && s.bytes > 2),
    held,
    release: () => heldRes?.destroy(),
  }
}

export interface DumpOptions {
  /** Blank lines are written after these message numbers. */
  blankAfter?: number[]
  /** The text of these lines (1-based file line numbers) instead of a message. */
  replace?: Record<number, string>
  /** A string key of this many bytes that the gateway ignores (to make big lines). */
  pad?: number
  /** Every message from this user (else user1 and user2 in turn). */
  sender?: string
}

/**
 * A dump of `n` messages, user1 and user2 in turn, with their times: message i is "m<i>".
 * Returns its path.
 */
export function dump (dir: string, n: number, o: DumpOptions = {}): string {
  const lines: string[] = []
  for (let i = 1; i <= n; i++) {
    const msg: Record<string, unknown> = {
      message_sender: o.sender ?? (i % 2 === 1 ? 'user1' : 'user2'),
      message_server_time: 1_700_000_000 + i,
      message_elem_array: [{ elem_type: 0, text_elem_content: `m${i}` }],
    }
    if (o.pad !== undefined) msg.x_padding = 'p'.repeat(o.pad)
    lines.push(JSON.stringify(msg))
    if (o.blankAfter?.includes(i) === true) lines.push('')
  }
  for (const [no, text] of Object.entries(o.replace ?? {})) lines[Number(no) - 1] = text
  const path = join(dir, 'dump.ndjson')
  writeFileSync(path, lines.join('\n') + '\n')
  return path
}

/** The text of every message in user1's c2c_user2, oldest first, walked page by page. */
export async function texts (g: TestApp): Promise<string[]> {
  const out: string[] = []
  let anchor = ''
  for (;;) {
    const res = await g.call('user1', 'GET', `/conversations/c2c_user2/messages?count=100&is_forward=true${anchor}`)
    const page = res.json() as Array<{ message_msg_id: string, message_elem_array: Array<{ text_elem_content?: string }> }>
    out.push(...page.map(m => m.message_elem_array[0]?.text_elem_content ?? ''))
    if (page.length < 100) return out
    anchor = `&last_msg_id=${encodeURIComponent(page[page.length - 1]!.message_msg_id)}`
  }
}

export const expected = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`)
export const state = (path: string) => JSON.parse(readFileSync(`${path}.timgate-import.json`, 'utf8')) as { lines_done: number, complete: boolean, sha256: string }
export const IMPORT_ARGS = ['--conversation', 'c2c_user2', '--as', 'user1']


/** A heavy request whose headers have arrived and whose body has not: it holds its slot (test/pressure/heavy.test.ts). */
export async function stalledImport (t: Test, gw: Gateway, user: string): Promise<RawConnection> {
  const r = await rawConnect(t, gw.port)
  r.socket.write(requestHead('POST', '/conversations/c2c_someone/messages/import',
    { authorization: `Bearer ${gw.g.sig(user)}`, 'content-type': 'application/json', 'content-length': 12_000_000 }))
  r.socket.write('[')
  return r
}
