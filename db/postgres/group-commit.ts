import type { HistoryPosition, NewMessage, StoredMessage, Written } from '../store.js'

interface Job {
  messages: NewMessage[]
  /** Whose read point in the messages' conversation the write also returns (MessageStore.insertReading). */
  reader: string | undefined
  resolve: (written: Written) => void
  reject: (err: unknown) => void
}

export type Insert = (messages: NewMessage[], reader?: string) => Promise<Written>

/** What a group's write gives: its messages as stored, and per message the read point its job asked for. */
export interface GroupWritten { stored: StoredMessage[], points: Array<HistoryPosition | undefined> }

/**
 * How a group is written (db/postgres/messages.ts): `write` stores the messages of several
 * writes all or nothing, with each reader's read point (readers: per message, the job's
 * reader at its first message); those that `accepts` go in one statement of their own.
 */
export interface GroupWriter {
  /** Whether these messages go in one statement (then a write of any size joins a group). */
  accepts (messages: readonly NewMessage[]): boolean
  write (messages: NewMessage[], readers: ReadonlyArray<string | undefined>): Promise<GroupWritten>
}

export interface GroupCommitOptions {
  /** Groups in flight at once (each holds one pooled connection). */
  maxInFlight: number
  /** Writes of more messages than this run alone, unless they go in one statement: an import must not hold up a send. */
  maxJobMessages?: number
}

/**
 * Group commit on PostgreSQL. A small write that finds a connection free runs at once, on
 * its own (`alone`: one round trip for a plain send). Writes that arrive while
 * `maxInFlight` groups are in flight wait, and go together (`together.write`)
 * when one ends: under load, N sends pay for one statement (or one BEGIN…COMMIT of a few)
 * instead of N commits, and one read of the read points they asked for instead of N. Every
 * promise settles after its COMMIT. When a shared transaction fails, each of its writes
 * runs again alone, so one bad write fails alone and the others are not lost. The seqs and
 * times stay those of one transaction: the conversations' rows are locked in key order
 * inside it (db/postgres/messages.ts).
 */
export function groupCommit (alone: Insert, together: GroupWriter, options: GroupCommitOptions): Insert {
  const maxJobMessages = options.maxJobMessages ?? 8
  let queue: Job[] = []
  let inFlight = 0

  const settleAlone = (job: Job) => alone(job.messages, job.reader).then(job.resolve, job.reject)

  /** Jobs that go in one statement are written apart from the others (one transaction). */
  const runGroup = async (jobs: Job[]): Promise<void> => {
    const inOne = jobs.filter(j => together.accepts(j.messages))
    await Promise.all([runPart(inOne), runPart(jobs.filter(j => !inOne.includes(j)))])
  }

  const runPart = async (jobs: Job[]): Promise<void> => {
    if (jobs.length <= 1) return jobs.length === 1 ? settleAlone(jobs[0]!) : undefined
    const messages = jobs.flatMap(j => j.messages)
    let written: GroupWritten
    try {
      written = await together.write(messages, jobs.flatMap(j => j.messages.map((_, i) => i === 0 ? j.reader : undefined)))
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
