import pg from 'pg'
import { fileURLToPath } from 'node:url'
import {
  historyBounds, IDEMPOTENCY_PENDING_S, IDEMPOTENCY_TTL_S, mediaRefsOf, msgIdsIn, Origin,
  type Group, type GroupRole, type HistoryQuery, type IdempotencyClaim, type NewMessage, type Store, type StoredMessage,
} from '../store.js'
import { migrate } from './migrate.js'
import { rowToMessage as toMessage, type MessageRow as Row } from '../rows.js'
import { pgClientConfig, retrying, run, transaction, type Queryable, type Statement } from './pool.js'
import { statements as sql } from './statements.js'

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url))

export interface PgStoreOptions {
  /** Connections of this replica's pool (default 10). */
  poolSize?: number
  /** Where the tables live (created if missing); else the URL's `?schema=`, else the server's search_path. */
  schema?: string
}



/** A group's rows are keyed by its conversation: the key src/messages/ids.ts gives its messages (also in by_ref). */
const groupConvKey = (groupId: string): string => `group:${groupId}`

/** Free client text that PostgreSQL text cannot hold (U+0000), as the UTF-8 bytea it is kept as. */
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8')

/** sender, time and rand of an import, within its conversation. */
const importKey = (m: NewMessage): string => JSON.stringify([m.convKey, m.sender, m.serverTime, m.rand])

/** A stored message as a later read returns it (its content through JSON). */
const asRead = (m: StoredMessage): StoredMessage => toMessage({
  id: m.id, conv_key: m.convKey, seq: m.seq, sender: m.sender, owner: m.owner, server_time: m.serverTime,
  client_time: m.clientTime, rand: m.rand, status: m.status, origin: m.origin, revoker: m.revoker, deleted: false,
  content: JSON.stringify(m.content),
})

/**
 * Stores messages on `db` (the pool for one plain message, else a transaction's client).
 * Each conversation's row in `conversations` is locked before anything is read or
 * allocated, in one order for all writers, so seqs come 1, 2, 3 … in commit order across
 * replicas, ids grow in that order too (what "delete all" relies on), and imports see
 * every import committed before them.
 */
async function insertWith (db: Queryable, messages: NewMessage[]): Promise<StoredMessage[]> {
  const only = messages[0]
  if (only === undefined) return []
  if (messages.length === 1 && only.origin !== Origin.Imported) {
    // One statement: the seq's row lock is held until it commits.
    const { rows: [row] } = await run<{ id: number, seq: number, server_time: number }>(db, sql.insertOne, [
      only.convKey, only.owner === null ? 1 : 0, only.sender, only.owner, only.serverTime, only.clientTime,
      only.rand, only.status, only.origin, only.elemMask, JSON.stringify(only.content), mediaRefsOf(only.content).map(bytes)])
    return [{ ...only, id: row!.id, seq: row!.seq, serverTime: row!.server_time, revoker: null, deleted: false }]
  }
  const keys = [...new Set(messages.map(m => m.convKey))]
  const { rows: locked } = await run<{ conv_key: string, last_seq: number, last_time: number }>(db, sql.lockConversations, [keys])
  const before = new Map(locked.map(r => [r.conv_key, r.last_seq]))
  const lastSeq = new Map(before)
  const lastTime = new Map(locked.map(r => [r.conv_key, r.last_time]))

  const out: Array<StoredMessage | undefined> = messages.map(() => undefined)
  const imports = messages.flatMap((m, at) => m.origin === Origin.Imported ? [{ m, at }] : [])
  if (imports.length > 0) {
    const { rows } = await run<Row & { i: number }>(db, sql.findImported, [
      imports.map(x => x.m.convKey), imports.map(x => x.m.sender), imports.map(x => x.m.serverTime), imports.map(x => x.m.rand)])
    for (const row of rows) out[imports[row.i - 1]!.at] = toMessage(row)
  }

  const created: Array<{ at: number, seq: number, serverTime: number }> = []
  const twins: Array<{ at: number, of: number }> = []
  const firstImport = new Map<string, number>()
  messages.forEach((m, at) => {
    if (out[at] !== undefined) return
    if (m.origin === Origin.Imported) {
      // The same import twice in one call: the second is the first as stored.
      const first = firstImport.get(importKey(m))
      if (first !== undefined) return twins.push({ at, of: first })
      firstImport.set(importKey(m), at)
    }
    let seq = 0
    let serverTime = m.serverTime
    if (m.owner === null) {
      seq = lastSeq.get(m.convKey)! + 1
      lastSeq.set(m.convKey, seq)
      if (m.origin !== Origin.Imported) {
        // A sent message's time never goes below the last sent one's: (time, seq) keeps commit order.
        serverTime = Math.max(serverTime, lastTime.get(m.convKey)!)
        lastTime.set(m.convKey, serverTime)
      }
    }
    created.push({ at, seq, serverTime })
  })
  if (created.length > 0) {
    const { rows } = await run<{ id: number }>(db, sql.nextIds, [created.length])
    const ids = rows.map(r => r.id).sort((a, b) => a - b)
    const news = created.map(({ at, seq, serverTime }, i) => ({ ...messages[at]!, id: ids[i]!, seq, serverTime }))
    created.forEach(({ at }, i) => { out[at] = { ...news[i]!, revoker: null, deleted: false } })
    await run(db, sql.insertMany, [
      news.map(m => m.id), news.map(m => m.convKey), news.map(m => m.seq), news.map(m => m.sender),
      news.map(m => m.owner), news.map(m => m.serverTime), news.map(m => m.clientTime), news.map(m => m.rand),
      news.map(m => m.status), news.map(m => m.origin), news.map(m => m.elemMask), news.map(m => JSON.stringify(m.content))])
    const refs = news.flatMap(m => mediaRefsOf(m.content).map(ref => [m.convKey, bytes(ref), m.id] as const))
    if (refs.length > 0) await run(db, sql.insertRefs, [refs.map(r => r[0]), refs.map(r => r[1]), refs.map(r => r[2])])
    const advanced = keys.filter(k => lastSeq.get(k) !== before.get(k))
    if (advanced.length > 0) await run(db, sql.setLastSeqs, [advanced, advanced.map(k => lastSeq.get(k)!), advanced.map(k => lastTime.get(k)!)])
  }
  for (const { at, of } of twins) out[at] = asRead(out[of]!)
  return out as StoredMessage[]
}

/**
 * Opens the PostgreSQL store at `url` (postgres://…, optionally `?schema=name`): a pool
 * of its own, the migrations applied (once across replicas), every statement named so
 * that each connection prepares it once.
 */
export async function openPgStore (url: string, options: PgStoreOptions = {}): Promise<Store> {
  const { schema, ...config } = pgClientConfig(url, options.schema)
  const pool = new pg.Pool({ ...config, max: options.poolSize ?? 10 })
  // An idle connection that dies (a server restart) is dropped by the pool; the next
  // query reports the failure to its request. Without a listener it would end the process.
  pool.on('error', () => {})
  try {
    await migrate(pool, MIGRATIONS, schema)
  } catch (err) {
    await pool.end()
    throw err
  }
  let closed = false
  const one = async (stmt: Statement, values: unknown[]): Promise<StoredMessage | undefined> => {
    const { rows: [row] } = await run<Row>(pool, stmt, values)
    return row === undefined ? undefined : toMessage(row)
  }

  return {
    kind: 'postgres',
    async insertMessages (messages) {
      if (messages.length === 1 && messages[0]!.origin !== Origin.Imported) return retrying(() => insertWith(pool, messages))
      return transaction(pool, client => insertWith(client, messages))
    },
    async allocateId () {
      const { rows: [row] } = await run<{ id: number }>(pool, sql.nextIds, [1])
      return row!.id
    },
    async getMessage (convKey, viewer, id) {
      return one(sql.byId, [convKey, id, viewer])
    },
    async findByLocators (convKey, viewer, locators) {
      if (locators.length === 0) return []
      const { rows } = await run<Row & { i: number }>(pool, sql.byLocators, [
        convKey, viewer, locators.map(l => l.seq), locators.map(l => l.rand), locators.map(l => l.time)])
      const found = new Map(rows.map(r => [r.i, toMessage(r)]))
      return locators.map((_, i) => found.get(i + 1))
    },
    async newest (convKey, viewer) {
      return one(sql.newest, [convKey, viewer])
    },
    async listHistory (q: HistoryQuery) {
      const { lo, hi } = historyBounds(q)
      const { rows } = await run<Row>(pool, q.forward ? sql.newer : sql.older, [
        q.convKey, q.viewer, lo.serverTime, lo.seq, lo.id, hi.serverTime, hi.seq, hi.id, q.elemMask ?? 0, q.limit])
      return rows.map(toMessage)
    },
    async revoke (id, revoker) {
      await run(pool, sql.revoke, [id, revoker])
    },
    async findMessageByRef (ref, viewer, anyGroup = false) {
      return one(sql.byRef, [bytes(ref), viewer, anyGroup])
    },
    async markRead (convKey, userId, to) {
      await run(pool, sql.markRead, [convKey, userId, to.serverTime, to.seq, to.id])
    },
    async readPoint (convKey, userId) {
      const { rows: [row] } = await run<{ server_time: number, seq: number, id: number }>(pool, sql.readPoint, [convKey, userId])
      return row === undefined ? undefined : { serverTime: row.server_time, seq: row.seq, id: row.id }
    },
    async deleteFor (convKey, userId, messageId) {
      await run(pool, sql.deleteFor, [convKey, userId, messageId])
    },
    async clearFor (convKey, userId) {
      await transaction(pool, async client => {
        // After the conversation's lock, every message stored before this call is committed
        // and visible, and every later one gets a greater id.
        await run(client, sql.lockConversations, [[convKey]])
        await run(client, sql.clearFor, [convKey, userId])
      })
    },
    async createGroup (group: Group, tips) {
      return transaction(pool, async client => {
        const key = groupConvKey(group.groupId)
        const { rowCount } = await run(client, sql.insertGroup, [key, group.groupId, bytes(group.name), group.owner])
        if (rowCount === 0) return false
        const members = new Map<string, GroupRole>()
        for (const m of group.members) members.set(m.userId, m.role)
        await run(client, sql.insertMembers, [key, [...members.keys()], [...members.values()]])
        if (tips !== undefined) await insertWith(client, [tips])
        return true
      })
    },
    async getGroup (groupId) {
      const { rows } = await run<{ group_id: string, group_name: Buffer, owner: string, user_id: string | null, role: number | null }>(
        pool, sql.getGroup, [groupConvKey(groupId)])
      const g = rows[0]
      if (g === undefined) return undefined
      return {
        groupId: g.group_id,
        name: g.group_name.toString('utf8'),
        owner: g.owner,
        members: rows.filter(r => r.user_id !== null).map(r => ({ userId: r.user_id!, role: r.role as GroupRole })),
      }
    },
    async changeGroup (groupId, change, tips) {
      return transaction(pool, async client => {
        const key = groupConvKey(groupId)
        await run(client, sql.lockGroup, [key])
        // Checked again under the group's lock: racing identical changes apply (and tip) once.
        const { rows: [current] } = await run<{ role: number }>(client, sql.roleOf, [key, change.userId])
        if ((current?.role ?? null) === change.role) return false
        if (change.role === null) await run(client, sql.removeMember, [key, change.userId])
        else await run(client, sql.setMember, [key, change.userId, change.role])
        await insertWith(client, [tips])
        return true
      })
    },
    async claimIdempotencyKey (owner, key, requestHash, now): Promise<IdempotencyClaim> {
      return transaction(pool, async client => {
        await run(client, sql.expireKeys, [now - IDEMPOTENCY_TTL_S])
        const { rowCount } = await run(client, sql.claimKey, [owner, key, requestHash, now])
        if (rowCount === 1) return { state: 'claimed' }
        const retaken = await run(client, sql.retakeKey, [now, owner, key, requestHash, now - IDEMPOTENCY_PENDING_S])
        if (retaken.rowCount === 1) return { state: 'claimed' }
        const { rows: [row] } = await run<{ request_hash: string, status: number | null, body: string | null }>(client, sql.getKey, [owner, key])
        if (row!.request_hash !== requestHash) return { state: 'mismatch' }
        if (row!.status === null || row!.body === null) return { state: 'pending' }
        return { state: 'done', status: row!.status, body: row!.body }
      })
    },
    async completeIdempotencyKey (owner, key, status, body) {
      await run(pool, sql.completeKey, [status, body, owner, key, msgIdsIn(body)])
    },
    async releaseIdempotencyKey (owner, key) {
      await run(pool, sql.releaseKey, [owner, key])
    },
    async scrubIdempotentResponses (msgId, scrub) {
      await transaction(pool, async client => {
        const { rows } = await run<{ owner: string, key: string, body: string }>(client, sql.keysCarrying, [msgId])
        for (const row of rows) await run(client, sql.rewriteKey, [scrub(row.body), row.owner, row.key])
      })
    },
    async ping () {
      await pool.query('SELECT 1')
    },
    async close () {
      // Idempotent, like SQLite's: pg's Pool.end() throws when called twice.
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}
