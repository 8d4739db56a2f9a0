// Helpers shared by the benchmarks (bench/run.mjs, bench/pg.mjs, bench/download.mjs):
// ports, waiting for and stopping child servers, reading /proc, small statistics and
// formatting. Plain JS, outside the build and outside `npm test`.
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { clearInterval, setInterval } from 'node:timers'
import { setTimeout as sleep } from 'node:timers/promises'
import { fetch } from 'undici'

// --- measuring processes through /proc ---------------------------------------------------

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/** User and system CPU seconds of a process (zero once it is gone). */
export function cpuTimes (pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK }
  } catch {
    return { user: 0, sys: 0 }
  }
}

/** User + system CPU seconds of a process. */
export const cpuOf = (pid) => {
  const t = cpuTimes(pid)
  return t.user + t.sys
}

/**
 * Local ports of the TCP connections that process `pid` has open to `serverPort` (for
 * example its database pool's connections, which pg_stat_activity names by client_port).
 */
export function clientPortsOf (pid, serverPort) {
  const inodes = new Set()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m !== null) inodes.add(m[1])
    } catch {
      // closed meanwhile
    }
  }
  const ports = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = row.trim().split(/\s+/)
      if (f.length < 10 || !inodes.has(f[9])) continue
      if (parseInt(f[2].split(':')[1], 16) === serverPort) ports.push(parseInt(f[1].split(':')[1], 16))
    }
  }
  return ports
}

/** Busy and total jiffies of the whole machine. */
export function machineCpu () {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const idle = f[3] + f[4]
  const total = f.reduce((a, b) => a + b, 0)
  return { busy: total - idle, total }
}

/** A memory figure of /proc/<pid>/status in bytes: `memory(pid, 'VmRSS')`, `'VmHWM'` (peak). */
export const memory = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024

/** Like `memory`, but undefined once the process is gone. */
export function tryMemory (pid, key) {
  try {
    return memory(pid, key)
  } catch {
    return undefined
  }
}

/**
 * Samples VmRSS of `pid` every `everyMs` until `stop()` is called, which answers
 * `{ first, last, peak, samples, values }` in bytes (`first` is the sample taken at the
 * start, `values` all of them in order).
 */
export function sampleRss (pid, everyMs = 100) {
  const samples = []
  const take = () => {
    const v = tryMemory(pid, 'VmRSS')
    if (v !== undefined) samples.push(v)
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    stop () {
      clearInterval(timer)
      take()
      return {
        first: samples[0],
        last: samples.at(-1),
        peak: samples.length === 0 ? undefined : Math.max(...samples),
        samples: samples.length,
        values: samples,
      }
    },
  }
}

// --- servers in child processes ----------------------------------------------------------

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort () {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  srv.close()
  await once(srv, 'close')
  return port
}

/**
 * Waits until `url` answers 2xx (15 s at most). With `child`, stops early with an error
 * when that process exits meanwhile.
 */
export async function waitFor (url, child) {
  for (let i = 0; i < 300; i++) {
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${url}: the server exited with ${child.exitCode ?? child.signalCode}`)
    }
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      if (res.ok) return
    } catch {
      // not listening yet
    }
    await sleep(50)
  }
  throw new Error(`${url} did not come up`)
}

/** SIGTERM, then SIGKILL after `ms`; resolves once the child has exited. */
export async function stop (child, ms = 15_000) {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = sleep(ms, 'timeout', { ref: false })
  if (await Promise.race([exited, timer]) === 'timeout') {
    child.kill('SIGKILL')
    await exited
  }
}

// --- numbers -----------------------------------------------------------------------------

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
export const fmt = (n, digits = 0) => Number.isFinite(n) ? n.toFixed(digits) : '-'
export const MB = 1024 * 1024

/** Lines of a table: the first two columns left-aligned, the others right-aligned. */
export function formatTable (head, rows, leftColumns = 2) {
  const table = [head, ...rows].map(r => r.map(c => String(c ?? '')))
  const widths = head.map((_, i) => Math.max(...table.map(row => row[i].length)))
  const line = (row) => row.map((c, i) => i < leftColumns || i === row.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ').trimEnd()
  return [line(table[0]), line(widths.map(w => '-'.repeat(w))), ...table.slice(1).map(line)]
}

/** The body schema of a Message, as much as a naive baseline server checks. */
export const MESSAGE_SCHEMA = {
  type: 'object',
  required: ['message_elem_array'],
  properties: {
    message_elem_array: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['elem_type'],
        properties: { elem_type: { type: 'integer' }, text_elem_content: { type: 'string' } },
      },
    },
    message_sender: { type: 'string' },
    message_client_time: { type: 'integer' },
    message_server_time: { type: 'integer' },
    message_rand: { type: 'integer' },
  },
}
