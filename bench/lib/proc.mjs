// Measuring processes through /proc: CPU times, memory (RSS sampled, and its peak), the
// whole machine's CPU, and the TCP connections a process has open.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { clearInterval, setInterval } from 'node:timers'

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()

/**
 * A process and its descendants, alive now (the gateway's event stream process is its
 * child): a server's CPU and memory are those of all of them.
 */
export function treeOf (pid) {
  const out = [pid]
  for (let i = 0; i < out.length; i++) {
    try {
      for (const task of readdirSync(`/proc/${out[i]}/task`)) {
        for (const child of readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim().split(/\s+/)) if (child !== '') out.push(Number(child))
      }
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** User and system CPU seconds of one process (zero once it is gone). */
function ownCpuTimes (pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
    return { user: Number(f[11]) / CLK_TCK, sys: Number(f[12]) / CLK_TCK }
  } catch {
    return { user: 0, sys: 0 }
  }
}

/**
 * User and system CPU seconds of a process and of its descendants alive now (a child's
 * seconds count while it lives: compare readings taken while the same children run).
 */
export function cpuTimes (pid) {
  const sum = { user: 0, sys: 0 }
  for (const p of treeOf(pid)) {
    const t = ownCpuTimes(p)
    sum.user += t.user
    sum.sys += t.sys
  }
  return sum
}

/**
 * Bytes a process and its descendants alive now handed to write(2) and its kin (`wchar` of
 * /proc/<pid>/io, every thread's): for a SQLite server its WAL frames, checkpoint copies
 * and logs. A steadier measure than time of what a change does to the pages a write
 * dirties: the host's noise moves it little.
 */
export function bytesWritten (pid) {
  let sum = 0
  for (const p of treeOf(pid)) {
    try {
      sum += Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${p}/io`, 'utf8'))?.[1] ?? 0)
    } catch {
      // gone meanwhile
    }
  }
  return sum
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

const ownMemory = (pid, key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024

/**
 * A memory figure of /proc/<pid>/status in bytes, summed over the process and its
 * descendants: `memory(pid, 'VmRSS')`, `'VmHWM'` (the sum of each one's peak).
 */
export function memory (pid, key) {
  const [self, ...children] = treeOf(pid)
  let sum = ownMemory(self, key)
  for (const p of children) {
    try {
      sum += ownMemory(p, key)
    } catch {
      // gone meanwhile
    }
  }
  return sum
}

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

/**
 * Resets the peak RSS (VmHWM) of `pid` to its current RSS, so that a later read of VmHWM is
 * the peak since now. False where the kernel does not let us (then only sampling tells).
 */
export function resetPeakRss (pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}
