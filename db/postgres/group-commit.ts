import type pg from 'pg'
import type { HistoryPosition, NewMessage, StoredMessage, Written } from '../store.js'
import { transaction } from './pool.js'

interface Job {
  messages: NewMessage[]
  /** Whose read point in the messages' conversation the write also returns (MessageStore.insertReading). */
  reader: string | undefined
  resolve: (written: Written) => void
  reject: (err: unknown) => void
}

export type Insert = (messages: NewMessage[], reader?: string) => Promise<Written>

/** A group's parts: its messages stored on the transaction's client, and the read points its writes asked for. */
export interface Together {
  insert (client: pg.PoolClient, messages: NewMessage[]): Promise<StoredMessage[]>
  readPoints (client: pg.PoolClient, asked: ReadonlyArray<{ convKey: string, userId: string }>): Promise<Array<HistoryPosition | undefined>>
}

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
 * of N commits, and one read of the read points they asked for instead of N. Every
 * promise settles after its COMMIT. When a shared transaction fails, each of its writes
 * runs again alone, so one bad write fails alone and the others are not lost. The seqs and
 * times stay those of one transaction: the conversations' rows are locked in key order
 * inside it (db/postgres/messages.ts).
 */
export function groupCommit (pool: pg.Pool, alone: Insert, together: Together, options: GroupCommitOptions): Insert {
  const maxJobMessages = options.maxJobMessages ?? 8
  let queue: Job[] = []
  let inFlight = 0

  const settleAlone = (job: Job) => alone(job.messages, job.reader).then(job.resolve, job.reject)

  const runGroup = async (jobs: Job[]): Promise<void> => {
    if (jobs.length === 1) return settleAlone(jobs[0]!)
    const asked = jobs.flatMap(j => j.reader === undefined ? [] : [{ convKey: j.messages[0]!.conv.key, userId: j.reader }])
    let written: { stored: StoredMessage[], points: Array<HistoryPosition | undefined> }
    try {
      written = await transaction(pool, async client => {
        const stored = await together.insert(client, jobs.flatMap(j => j.messages))
        return { stored, points: asked.length === 0 ? [] : await together.readPoints(client, asked) }
      })
    } catch {
      await Promise.all(jobs.map(settleAlone))
      return
    }
    let at = 0
    let point = 0
    for (const job of jobs) {
      const readPoint = job.reader === undefined ? undefined : written.points[point++]
      job.resolve({ stored: written.stored.slice(at, at + job.messages.length), readPoint })
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

  return (messages, reader) => {
    if (messages.length > maxJobMessages) return alone(messages, reader)
    return new Promise<Written>((resolve, reject) => {
      queue.push({ messages, reader, resolve, reject })
      // The writes of this turn of the event loop go together when a group can start.
      if (queue.length === 1) setImmediate(flush)
    })
  }
}
