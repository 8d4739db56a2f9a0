import type pg from 'pg'
import type { NewMessage, StoredMessage } from '../store.js'
import { transaction } from './pool.js'

interface Job {
  messages: NewMessage[]
  resolve: (stored: StoredMessage[]) => void
  reject: (err: unknown) => void
}

export type Insert = (messages: NewMessage[]) => Promise<StoredMessage[]>

export interface GroupCommitOptions {
  /** Groups in flight at once (each holds one pooled connection). */
  maxInFlight: number
  /** Writes of more messages than this run alone: an import must not hold up a send. */
  maxJobMessages?: number
}

/**
 * Group commit on PostgreSQL. A small write that finds a connection free runs at once, on
 * its own (`alone`: one round trip for a plain send). Writes that arrive while
 * `maxInFlight` groups are in flight wait, and go together as one transaction (`together`)
 * when one ends: under load, N sends pay for one BEGIN…COMMIT of a few statements instead
 * of N commits. Every promise settles after its COMMIT. When a shared transaction fails,
 * each of its writes runs again alone, so one bad write fails alone and the others are not
 * lost. The seqs and times stay those of one transaction: the conversations' rows are
 * locked in key order inside it (db/postgres/messages.ts).
 */
export function groupCommit (pool: pg.Pool, alone: Insert, together: (client: pg.PoolClient, messages: NewMessage[]) => Promise<StoredMessage[]>,
  options: GroupCommitOptions): Insert {
  const maxJobMessages = options.maxJobMessages ?? 8
  let queue: Job[] = []
  let inFlight = 0

  const settleAlone = (job: Job) => alone(job.messages).then(job.resolve, job.reject)

  const runGroup = async (jobs: Job[]): Promise<void> => {
    if (jobs.length === 1) return settleAlone(jobs[0]!)
    let stored: StoredMessage[]
    try {
      stored = await transaction(pool, client => together(client, jobs.flatMap(j => j.messages)))
    } catch {
      await Promise.all(jobs.map(settleAlone))
      return
    }
    let at = 0
    for (const job of jobs) {
      job.resolve(stored.slice(at, at + job.messages.length))
      at += job.messages.length
    }
  }

  const flush = (): void => {
    if (queue.length === 0 || inFlight >= options.maxInFlight) return
    const jobs = queue
    queue = []
    inFlight++
    void runGroup(jobs).finally(() => {
      inFlight--
      flush()
    })
  }

  return (messages) => {
    if (messages.length > maxJobMessages) return alone(messages)
    return new Promise<StoredMessage[]>((resolve, reject) => {
      queue.push({ messages, resolve, reject })
      // The writes of this turn of the event loop go together when a group can start.
      if (queue.length === 1) setImmediate(flush)
    })
  }
}
