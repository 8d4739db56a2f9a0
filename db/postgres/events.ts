import pg from 'pg'
import { EventType, type EventStore } from '../store.js'
import { rowToEvent, type EventRow } from '../rows.js'
import { run, statement, transaction, type Queryable } from './pool.js'

/** The first key of the numberer's advisory lock (the second: the schema's name hashed). */
const NUMBERER_LOCK = 0x74696d65 // 'time'
/** Rows numbered in one round, and deleted by one sweep. */
const BATCH = 5000
/** After a full batch, the numberer looks again this soon. */
const RETRY_MS = 3
/** Rows another replica left unnumbered (it died between its commit and its numbering) are numbered within this. */
const BACKSTOP_MS = 500

/**
 * The numbering statement's plan, whatever the statistics say. Its prepared plan is made
 * once per connection, often while the log is new and looks empty: then a hash join over a
 * sequential scan of the whole log looked cheapest, and stayed the plan as the log grew (a
 * round read every row: 5 ms and a third of the database's CPU per send at 2,500 sends/s).
 * A bitmap scan of the unnumbered rows also visits every row numbered since the last
 * vacuum (their entries in the partial index are dead but not yet gone), where an index
 * scan marks such entries dead the first time and skips them after. Only this
 * transaction's plans are affected (SET LOCAL), and every plan of that statement is made
 * under these settings.
 */
const INDEXES_ONLY = 'SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_hashjoin = off'

const select = `SELECT e.pos, e.type, e.conv_key, c.user_a, c.user_b, e.message_id, e.actor, e.role, e.at
  FROM events e LEFT JOIN conversations c ON c.conv_key = e.conv_key`
const sql = {
  /** A message event per stored message that is news, in the order of its ids ($1 text[], $2 bigint[], $3 bigint[]). */
  appendMessages: statement('append_message_events', `INSERT INTO events (type, conv_key, message_id, at)
    SELECT ${EventType.Message}, k, m, t FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS x(k, m, t, i) ORDER BY i`),
  append: statement('append_event', `INSERT INTO events (type, conv_key, message_id, actor, role, at)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`),
  openHistory: statement('open_member_history', `INSERT INTO group_member_history (conv_key, user_id, from_event)
    SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM group_member_history WHERE conv_key = $1 AND user_id = $2 AND to_event IS NULL)`),
  closeHistory: statement('close_member_history', 'UPDATE group_member_history SET to_event = $3 WHERE conv_key = $1 AND user_id = $2 AND to_event IS NULL'),
  lock: statement('lock_numberer', 'SELECT pg_try_advisory_xact_lock($1, hashtext(coalesce($2::text, current_schema(), \'\'))) AS got'),
  /**
   * Positions for the committed rows not numbered yet, in (tx, id) order. Only committed
   * rows are visible, and positions are handed out only here, one round at a time: a row
   * that commits later gets a later position, so a reader past position p never misses one.
   */
  number: statement('number_events', `WITH todo AS (
      SELECT id, row_number() OVER (ORDER BY tx, id) AS n FROM events
      WHERE pos IS NULL ORDER BY tx, id LIMIT ${BATCH}),
    c AS (UPDATE event_positions SET last = last + (SELECT count(*) FROM todo) WHERE id = 1 AND EXISTS (SELECT 1 FROM todo)
      RETURNING last - (SELECT count(*) FROM todo) AS base)
    UPDATE events e SET pos = c.base + todo.n FROM todo, c WHERE e.id = todo.id RETURNING e.pos`),
  read: statement('read_events', `${select} WHERE e.pos > $1 ORDER BY e.pos LIMIT $2`),
  readFor: statement('read_events_for', `${select} WHERE e.pos > $2 AND e.type <> ${EventType.Membership}
    AND (c.user_a = $1 OR c.user_b = $1 OR (c.user_a IS NULL AND EXISTS (
      SELECT 1 FROM group_member_history h LEFT JOIN events f ON f.id = h.from_event LEFT JOIN events t ON t.id = h.to_event
      WHERE h.conv_key = e.conv_key AND h.user_id = $1 AND coalesce(f.pos, 0) <= e.pos
        AND (h.to_event IS NULL OR t.pos >= e.pos))))
    ORDER BY e.pos LIMIT $3`),
  bounds: statement('event_bounds', `SELECT (SELECT min(pos) FROM events) AS oldest, (SELECT last FROM event_positions WHERE id = 1) AS newest`),
  membersAt: statement('members_at', `SELECT h.user_id FROM group_member_history h LEFT JOIN events f ON f.id = h.from_event
    LEFT JOIN events t ON t.id = h.to_event
    WHERE h.conv_key = $1 AND coalesce(f.pos, 0) <= $2 AND (h.to_event IS NULL OR t.pos >= $2)`),
  sweep: statement('sweep_events', `DELETE FROM events WHERE id IN (
    SELECT id FROM events WHERE at < $1 AND pos IS NOT NULL
      AND pos <= (SELECT coalesce(min(cursor), ${Number.MAX_SAFE_INTEGER}) FROM webhooks) ORDER BY pos LIMIT ${BATCH})`),
  sweepHistory: statement('sweep_member_history', `DELETE FROM group_member_history h
    WHERE h.to_event IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events t WHERE t.id = h.to_event)`),
} as const

/** The log's writing side, for the other modules of this adapter (inside their transactions). */
export interface PgEventAppender {
  messages (db: Queryable, items: ReadonlyArray<{ convKey: string, messageId: number, at: number }>): Promise<void>
  append (db: Queryable, type: EventType, convKey: string, messageId: number | null, at: number, actor?: string | null, role?: number | null): Promise<number>
  membership (db: Queryable, convKey: string, userId: string, role: number | null, at: number): Promise<void>
  /** After the COMMIT of a write that appended events: numbers them soon. */
  committed (): void
}

export interface PgEvents {
  store: EventStore
  appender: PgEventAppender
  /** Stops numbering and listening. */
  close (): Promise<void>
}

/**
 * The event log on PostgreSQL. Writers append rows without a position (with their
 * transaction's id); this replica numbers them soon after its own commits, and every
 * BACKSTOP_MS whatever any replica left; a numbering round sends one NOTIFY (the newest
 * position, never the event: NOTIFY payloads are small and a notifying commit takes a
 * global lock) that wakes the readers of every replica.
 */
export async function pgEvents (pool: pg.Pool, clientConfig: pg.ClientConfig, schema: string | undefined): Promise<PgEvents> {
  const channel = `timgate_events${schema === undefined ? '' : `_${schema}`}`
  const listeners = new Set<() => void>()
  const wake = () => { for (const listener of listeners) listener() }
  let closed = false
  let numbering: Promise<void> | undefined
  let again = false
  let retry: NodeJS.Timeout | undefined

  /** One numbering round: false when a full batch was numbered and more may be waiting. */
  const round = async (): Promise<boolean> => transaction(pool, async client => {
    const { rows: [lock] } = await run<{ got: boolean }>(client, sql.lock, [NUMBERER_LOCK, schema ?? null])
    // Another replica is numbering: it numbers what is there, and notifies.
    if (lock?.got !== true) return true
    await client.query(INDEXES_ONLY)
    const { rows } = await run<{ pos: number }>(client, sql.number, [])
    if (rows.length > 0) await client.query('SELECT pg_notify($1, $2)', [channel, String(Math.max(...rows.map(r => r.pos)))])
    return rows.length < BATCH
  })
  const number = (): void => {
    if (closed) return
    if (numbering !== undefined) {
      again = true
      return
    }
    numbering = round().then(
      (done) => { if (!done) again = true },
      () => { again = true }) // the database is away: the backstop and the next write try again
      .finally(() => {
        numbering = undefined
        wake()
        if (again && !closed) {
          again = false
          clearTimeout(retry)
          retry = setTimeout(number, RETRY_MS)
        }
      })
  }
  // Readers are woken at every tick too: should the listening connection be down, they
  // still learn of other replicas' events within BACKSTOP_MS.
  const backstop = setInterval(() => { number(); wake() }, BACKSTOP_MS)
  backstop.unref()

  // Numbering rounds of every replica, this one's included, arrive as notifications on a
  // connection of its own, opened again after a loss.
  let listener: pg.Client | undefined
  let relisten: NodeJS.Timeout | undefined
  const listen = async (): Promise<void> => {
    const client = new pg.Client(clientConfig)
    client.on('notification', wake)
    const lost = () => {
      if (listener !== client) return
      listener = undefined
      client.end().catch(() => {})
      if (!closed) relisten = setTimeout(() => { listen().catch(() => {}) }, BACKSTOP_MS)
    }
    client.on('error', lost)
    client.on('end', lost)
    listener = client
    try {
      await client.connect()
      await client.query(`LISTEN ${channel}`)
    } catch (err) {
      lost()
      throw err
    }
  }
  await listen()

  const appender: PgEventAppender = {
    async messages (db, items) {
      if (items.length === 0) return
      await run(db, sql.appendMessages, [items.map(x => x.convKey), items.map(x => x.messageId), items.map(x => x.at)])
    },
    async append (db, type, convKey, messageId, at, actor = null, role = null) {
      const { rows: [row] } = await run<{ id: number }>(db, sql.append, [type, convKey, messageId, actor, role, at])
      return row!.id
    },
    async membership (db, convKey, userId, role, at) {
      const id = await appender.append(db, EventType.Membership, convKey, null, at, userId, role)
      if (role === null) await run(db, sql.closeHistory, [convKey, userId, id])
      else await run(db, sql.openHistory, [convKey, userId, id])
    },
    committed: number,
  }

  const store: EventStore = {
    async read (after, limit) {
      return (await run<EventRow>(pool, sql.read, [after, limit])).rows.map(rowToEvent)
    },
    async readFor (user, after, limit) {
      return (await run<EventRow>(pool, sql.readFor, [user, after, limit])).rows.map(rowToEvent)
    },
    async bounds () {
      const { rows: [b] } = await run<{ oldest: number | null, newest: number | null }>(pool, sql.bounds, [])
      return { oldest: b?.oldest ?? undefined, newest: b?.newest ?? 0 }
    },
    async settle () {
      await numbering
      await round().catch(() => {})
      return (await store.bounds()).newest
    },
    async membersAt (convKey, pos) {
      return (await run<{ user_id: string }>(pool, sql.membersAt, [convKey, pos])).rows.map(r => r.user_id)
    },
    async sweep (before) {
      const { rowCount } = await run(pool, sql.sweep, [before])
      if ((rowCount ?? 0) > 0) await run(pool, sql.sweepHistory, [])
      return rowCount ?? 0
    },
    subscribe (l) {
      listeners.add(l)
      return () => listeners.delete(l)
    },
  }

  return {
    store,
    appender,
    async close () {
      closed = true
      clearInterval(backstop)
      clearTimeout(retry)
      clearTimeout(relisten)
      await numbering
      const client = listener
      listener = undefined
      await client?.end().catch(() => {})
    },
  }
}
