import type { Database } from 'better-sqlite3'

interface Job {
  run: () => unknown
  checkpoint: boolean
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
}

export interface WriteOptions {
  /** Copy the WAL into the database file and truncate it after the commit (erasing revoked content). */
  checkpoint?: boolean
}

export type Write = <T>(run: () => T, options?: WriteOptions) => Promise<T>

/** How many times a busy TRUNCATE checkpoint is tried, 2 ms apart. */
const CHECKPOINT_ATTEMPTS = 250

/** SQLITE_BUSY and its extended codes: another process holds the write lock past busy_timeout. */
const isBusy = (err: unknown) => typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('SQLITE_BUSY')

/**
 * Group commit. Every write asked for in one turn of the event loop runs in a single
 * IMMEDIATE transaction at the next `setImmediate`, and each caller's promise settles only
 * after that COMMIT: an answered write is as durable as before, but N concurrent requests
 * pay for one commit (one WAL append, one lock) instead of N. `run` must be synchronous
 * and touch only the database. When the shared transaction fails, it is rolled back and
 * each write runs again in a transaction of its own, so one bad write fails alone and the
 * others are not lost.
 */
export function groupCommit (db: Database): Write {
  let queue: Job[] = []
  const runAll = db.transaction((jobs: Job[]) => jobs.map(j => j.run()))
  // Made once: db.transaction() builds its wrapper and four variants on every call.
  const runOne = db.transaction((job: Job) => job.run())
  // A checkpoint that meets another one (the checkpoint worker's) answers busy at once, the
  // busy handler aside: tried again for a little while, since revoked content must leave.
  const pause = new Int32Array(new SharedArrayBuffer(4))
  const checkpoint = () => {
    for (let attempt = 0; attempt < CHECKPOINT_ATTEMPTS; attempt++) {
      const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>
      if (r?.busy === 0) return
      Atomics.wait(pause, 0, 0, 2)
    }
    throw new Error(`the WAL could not be checkpointed after ${CHECKPOINT_ATTEMPTS} attempts (a reader held it)`)
  }

  const settleAlone = (job: Job) => {
    try {
      const value = runOne.immediate(job)
      if (job.checkpoint) checkpoint()
      job.resolve(value)
    } catch (err) {
      job.reject(err)
    }
  }

  const flush = () => {
    const jobs = queue
    queue = []
    if (jobs.length === 1) return settleAlone(jobs[0]!)
    let values: unknown[]
    try {
      values = runAll.immediate(jobs)
    } catch (err) {
      // The lock was not had: trying each alone would only wait busy_timeout N times.
      if (isBusy(err)) return jobs.forEach(j => j.reject(err))
      return jobs.forEach(settleAlone)
    }
    let failed: { err: unknown } | undefined
    if (jobs.some(j => j.checkpoint)) {
      try {
        checkpoint()
      } catch (err) {
        failed = { err }
      }
    }
    jobs.forEach((j, i) => j.checkpoint && failed !== undefined ? j.reject(failed.err) : j.resolve(values[i]))
  }

  return <T>(run: () => T, options: WriteOptions = {}) => new Promise<T>((resolve, reject) => {
    const job: Job = { run, checkpoint: options.checkpoint === true, resolve: resolve as (value: unknown) => void, reject }
    if (queue.push(job) === 1) setImmediate(flush)
  })
}
