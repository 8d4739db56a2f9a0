// Servers in child processes: a free port, waiting until one answers, stopping one.
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fetch } from 'undici'

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

