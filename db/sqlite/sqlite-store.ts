import Database from 'better-sqlite3'
import { fileURLToPath } from 'node:url'
import type { Store } from '../store.js'
import { StorageFull, StoreUnavailable } from '../errors.js'
import { migrate } from './migrate.js'
import { groupCommit, type Write } from './group-commit.js'
import { startCheckpointer } from './checkpointer.js'
import { seqCounter } from './seqs.js'
import { sqliteMessages } from './messages.js'
import { sqliteGroups } from './groups.js'
import { sqliteIdempotency } from './idempotency.js'
import { sqliteEvents } from './events.js'
import { sqliteWebhooks } from './webhooks.js'
import { sqliteConversations } from './conversations.js'
import { backfillSearch, sqliteSearch } from './search.js'
import { sqliteUploads } from './uploads.js'

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url))

/** A SqliteError as the condition it reports, if it reports one. */
function translated (err: unknown): unknown {
  const code = (err as { code?: unknown }).code
  if (typeof code !== 'string') return err
  if (code === 'SQLITE_FULL') return new StorageFull('the database file cannot grow: its disk is full', { cause: err })
  // SQLITE_BUSY: another process held the write lock past busy_timeout.
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_BUSY') || code === 'SQLITE_CANTOPEN') {
    return new StoreUnavailable(`the database file cannot be used (${code})`, { cause: err })
  }
  return err
}

export interface SqliteOptions {
  /**
   * NORMAL (the default): a commit survives a crash of the process; a power loss may take
   * the last commits. FULL: the WAL is fsynced at every commit, so a power loss takes
   * nothing that was answered (README, "Durability").
   */
  synchronous?: 'NORMAL' | 'FULL'
  /** Unix seconds now (a group's creation time). */
  now?: () => number
  /** False for a second connection to the file (the event stream process): the gateway's own runs the checkpoints. */
  checkpoints?: boolean
  /** The file must be there already (a second connection never makes an empty database of its own). */
  mustExist?: boolean
}

/**
 * Opens (creating and migrating) the SQLite database at `file`: one connection, whose
 * writes all go through group commit (./group-commit.ts), and a checkpoint worker.
 */
export function openSqliteStore (file: string, options: SqliteOptions = {}): Store {
  const synchronous = options.synchronous ?? 'NORMAL'
  const db = new Database(file, { fileMustExist: options.mustExist === true })
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${synchronous}`)
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  // A revoked message's content must leave the file, not linger in free space.
  db.pragma('secure_delete = ON')
  // Statement journals (an upsert inside a longer transaction needs one) in memory: as
  // temporary files they cost 20 µs per row of a send or an import.
  db.pragma('temp_store = MEMORY')
  // 012-search indexes the history stored before it.
  migrate(db, MIGRATIONS, { 12: () => backfillSearch(db) })
  // Checkpoints run in a worker (see checkpointer.ts); this threshold (40 MB of WAL) is
  // the backstop should it fall behind.
  db.pragma('wal_autocheckpoint = 10000')
  const checkpointer = options.checkpoints === false ? { stop: async () => {} } : startCheckpointer(file, synchronous)

  // Every write runs in the transaction that group commit opens for it, with seq counting.
  const seqs = seqCounter(db)
  const commit = groupCommit(db)
  const now = options.now ?? (() => Math.floor(Date.now() / 1000))
  // Subscribers hear of new events after the COMMIT that made them readable.
  const search = sqliteSearch(db)
  const write: Write = (run, opts) => commit(() => search.within(() => seqs.within(run)), opts).then(
    (value) => { events.appender.committed(); return value },
    (err: unknown) => { throw translated(err) })
  const events = sqliteEvents(db, write)
  const messages = sqliteMessages(db, write, seqs, events.appender, search, now)
  const ping = db.prepare('SELECT 1')
  const probe = db.prepare<[number]>('INSERT INTO probes (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at')
  let closed = false

  return {
    kind: 'sqlite',
    messages: messages.store,
    groups: sqliteGroups(db, write, messages.insertOne, events.appender, now),
    idempotency: sqliteIdempotency(db, write),
    events: events.store,
    webhooks: sqliteWebhooks(db, write),
    conversations: sqliteConversations(db, write, seqs, messages),
    search: search.store,
    uploads: sqliteUploads(db, write),
    async ping () {
      ping.get()
    },
    async probe () {
      await write(() => probe.run(Date.now()))
    },
    async close () {
      if (closed) return
      closed = true
      // The worker's connection goes first, so that closing the last one removes the WAL.
      await checkpointer.stop()
      db.close()
    },
  }
}
