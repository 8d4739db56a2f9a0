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

/**
 * A group's write. `statement`, when it can take these messages, stores them in one
 * statement of its own and reads each reader's point (readers: per message, the job's
 * reader at its first message); else `insert` and `readPoints` run in one transaction.
 */
export interface Together {
  /** Whether `statement` takes these messages (then a write of any size joins a group). */
  accepts (messages: readonly NewMessage[]): boolean
  statement (messages: NewMessage[], readers: ReadonlyArray<string | undefined>): Promise<{ stored: StoredMessage[], points: Array<HistoryPosition | undefined> }>
  insert (client: pg.PoolClient, messages: NewMessage[]): Promise<StoredMessage[]>
  readPoints (client: pg.PoolClient, asked: ReadonlyArray<{ convKey: string, userId: string }>): Promise<Array<HistoryPosition | undefined>>
}

export interface GroupCommitOptions {
  /** Groups in flight at once (each holds one pooled connection). */
  maxInFlight: number
  /** Writes of more messages than this run alone, unless `statement` takes them: an import must not hold up a send. */
  maxJobMessages?: number
}

/**
 * Group commit on PostgreSQL. A small write that finds a connection free runs at once, on
 * its own (`alone`: one round trip for a plain send). Writes that arrive while
 * `maxInFlight` groups are in flight wait, and go together as one transaction (`together`)
 * when one ends: under load, N sends pay for one statement (or one BEGIN…COMMIT of a few)
 * instead of N commits, and one read of the read points they asked for instead of N. Every
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

  /** Jobs that `statement` accepts go in one statement, the others in one transaction. */
  const runGroup = async (jobs: Job[]): Promise<void> => {
    const inOne = jobs.filter(j => together.accepts(j.messages))
    await Promise.all([runPart(inOne, true), runPart(jobs.filter(j => !inOne.includes(j)), false)])
  }

  const runPart = async (jobs: Job[], inOne: boolean): Promise<void> => {
    if (jobs.length <= 1) return jobs.length === 1 ? settleAlone(jobs[0]!) : undefined
    const messages = jobs.flatMap(j => j.messages)
    const readers = jobs.flatMap(j => j.messages.map((_, i) => i === 0 ? j.reader : undefined))
    let written: { stored: StoredMessage[], points: Array<HistoryPosition | undefined> }
    try {
      written = await (inOne ? together.statement(messages, readers) : transaction(pool, async client => {
        const stored = await together.insert(client, messages)
        const asked = readers.flatMap((userId, at) => userId === undefined ? [] : [{ convKey: messages[at]!.conv.key, userId, at }])
        const points: Array<HistoryPosition | undefined> = messages.map(() => undefined)
        if (asked.length > 0) (await together.readPoints(client, asked)).forEach((p, i) => { points[asked[i]!.at] = p })
        return { stored, points }
      }))
    } catch {
      await Promise.all(jobs.map(settleAlone))
      return
    }
    let at = 0
    for (const job of jobs) {
      job.resolve({ stored: written.stored.slice(at, at + job.messages.length), readPoint: written.points[at] })
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
    if (messages.length > maxJobMessages && !together.accepts(messages)) return alone(messages, reader)
    return new Promise<Written>((resolve, reject) => {
      queue.push({ messages, reader, resolve, reject })
      // The writes of this turn of the event loop go together when a group can start.
      if (queue.length === 1) setImmediate(flush)
    })
  }
}
