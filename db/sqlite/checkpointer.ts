import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/**
 * The worker's code, plain CommonJS so that it runs the same from dist/ and under the test
 * loader. Its own connection runs PASSIVE checkpoints: they copy committed WAL frames into
 * the database file and fsync it while the main thread's writers go on.
 */
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.module)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 5000')
// It only copies WAL frames into the file: no use for a page cache of its own.
db.pragma('cache_size = 64')
db.pragma('synchronous = ' + workerData.synchronous)
const checkpoint = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch { /* busy or closing: the next tick tries again */ }
}
const timer = setInterval(checkpoint, workerData.intervalMs)
parentPort.once('message', () => {
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort.close()
})
`

export interface Checkpointer {
  /** Runs a last checkpoint and closes the worker's connection. */
  stop (): Promise<void>
}

/**
 * Moves WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the
 * COMMIT that crosses the threshold, fsync included, and stalls every request behind it
 * (seen as p99 spikes of a second on a busy disk); this worker checkpoints every
 * `intervalMs` instead. The main connection keeps a high automatic threshold as a backstop.
 */
export function startCheckpointer (file: string, synchronous: string, intervalMs = 100): Checkpointer {
  const worker = new Worker(SOURCE, {
    eval: true,
    // Plain JS: none of the parent's loaders (a test runner's) are needed.
    execArgv: [],
    workerData: { file, synchronous, intervalMs, module: createRequire(import.meta.url).resolve('better-sqlite3') },
  })
  // A failed worker leaves checkpoints to the main connection's threshold.
  worker.on('error', () => {})
  worker.unref()
  const exited = new Promise<void>(resolve => worker.once('exit', () => resolve()))
  return {
    async stop () {
      // Unreferenced while it runs (it must not keep the process up), but waited for here.
      worker.ref()
      worker.postMessage('stop')
      await exited
    },
  }
}
