import Database from 'better-sqlite3'
import { fileURLToPath } from 'node:url'
import {
  historyBounds, IDEMPOTENCY_PENDING_S, IDEMPOTENCY_TTL_S, mediaRefsOf, msgIdsIn, Origin,
  type Group, type GroupRole, type HistoryQuery, type IdempotencyClaim, type Locator, type NewMessage, type Store, type StoredMessage,
} from '../store.js'
import { migrate } from './migrate.js'
import { groupCommit, type Write } from './group-commit.js'
import { startCheckpointer } from './checkpointer.js'
import { rowToMessage as toMessage, type MessageRow as Row } from '../rows.js'

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url))


/** Every select names @viewer: saved messages are the owner's, deletions are per user. */
const COLUMNS = `id, conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, revoker, content,
  (id <= coalesce((SELECT up_to_id FROM clears c WHERE c.conv_key = messages.conv_key AND c.user_id = @viewer), 0)
   OR EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = messages.conv_key AND d.user_id = @viewer AND d.message_id = messages.id)) AS deleted`
/** The columns of a history page: its range already leaves out what the viewer deleted. */
const PAGE_COLUMNS = 'id, conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, revoker, content, 0 AS deleted'
const VISIBLE = '(owner IS NULL OR owner = @viewer)'


export interface SqliteOptions {
  /**
   * NORMAL (the default): a commit survives a crash of the process; a power loss may take
   * the last commits. FULL: the WAL is fsynced at every commit, so a power loss takes
   * nothing that was answered (README, "Durability").
   */
  synchronous?: 'NORMAL' | 'FULL'
}

/** Opens (creating and migrating) the SQLite database at `file`. */
export function openSqliteStore (file: string, options: SqliteOptions = {}): Store {
  const synchronous = options.synchronous ?? 'NORMAL'
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma(`synchronous = ${synchronous}`)
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  // A revoked message's content must leave the file, not linger in free space.
  db.pragma('secure_delete = ON')
  // Statement journals (an upsert inside a longer transaction needs one) in memory: as
  // temporary files they cost 20 µs per row of a send or an import.
  db.pragma('temp_store = MEMORY')
  migrate(db, MIGRATIONS)
  // Checkpoints run in a worker (see checkpointer.ts); this threshold (40 MB of WAL) is
  // the backstop should it fall behind.
  db.pragma('wal_autocheckpoint = 10000')
  const checkpointer = startCheckpointer(file, synchronous)

  // A sent message's time never goes below the last sent one's: (time, seq) keeps commit
  // order. An import keeps its time (null here) and so leaves last_time as it is.
  const nextSeq = db.prepare<{ convKey: string, time: number | null }, { last_seq: number, last_time: number }>(
    'INSERT INTO conversations (conv_key, last_seq, last_time) VALUES (@convKey, 1, coalesce(@time, 0)) ' +
    'ON CONFLICT (conv_key) DO UPDATE SET last_seq = last_seq + 1, last_time = max(last_time, coalesce(@time, last_time)) RETURNING last_seq, last_time')
  const setSeq = db.prepare<[number, number, string]>('UPDATE conversations SET last_seq = ?, last_time = ? WHERE conv_key = ?')
  const insert = db.prepare<unknown[]>(
    'INSERT INTO messages (conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content) ' +
    'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  // Answered from the messages_import index alone; the row is read only for a re-import.
  const imported = db.prepare<[string, string, number, number], { id: number }>(
    `SELECT id FROM messages WHERE conv_key = ? AND sender = ? AND server_time = ? AND rand = ? AND origin = ${Origin.Imported}`)
  const bumpId = db.prepare<[], { seq: number }>(
    "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'messages' RETURNING seq")
  const seedId = db.prepare("INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages')")
  const byId = db.prepare<{ id: number, convKey: string, viewer: string }, Row>(
    `SELECT ${COLUMNS} FROM messages WHERE id = @id AND conv_key = @convKey AND ${VISIBLE}`)
  const byLocator = db.prepare<{ convKey: string, viewer: string, seq: number, rand: number, time: number }, Row>(
    `SELECT ${COLUMNS} FROM messages INDEXED BY messages_history
     WHERE conv_key = @convKey AND server_time = @time AND seq = @seq AND rand = @rand AND ${VISIBLE} LIMIT 1`)
  const newest = db.prepare<{ convKey: string, viewer: string }, Row>(
    `SELECT ${COLUMNS} FROM messages INDEXED BY messages_history WHERE conv_key = @convKey AND ${VISIBLE}
     ORDER BY server_time DESC, seq DESC, id DESC LIMIT 1`)
  // Both ends of the walk are row values over the history index, so a page is one
  // index range whatever the conversation's size (the time filter folds into them).
  const range = `conv_key = @convKey AND (server_time, seq, id) > (@loT, @loS, @loI) AND (server_time, seq, id) < (@hiT, @hiS, @hiI)
     AND ${VISIBLE} AND (@mask = 0 OR (elem_mask & @mask) != 0)
     AND id > coalesce((SELECT up_to_id FROM clears c WHERE c.conv_key = @convKey AND c.user_id = @viewer), 0)
     AND NOT EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = @convKey AND d.user_id = @viewer AND d.message_id = messages.id)`
  const older = db.prepare<Record<string, unknown>, Row>(
    `SELECT ${PAGE_COLUMNS} FROM messages INDEXED BY messages_history WHERE ${range}
     ORDER BY server_time DESC, seq DESC, id DESC LIMIT @limit`)
  const newer = db.prepare<Record<string, unknown>, Row>(
    `SELECT ${PAGE_COLUMNS} FROM messages INDEXED BY messages_history WHERE ${range}
     ORDER BY server_time, seq, id LIMIT @limit`)
  const revoke = db.prepare<{ id: number, revoker: string }>(
    `UPDATE messages SET status = 6, revoker = @revoker, elem_mask = 0, content = '{"message_elem_array":[]}' WHERE id = @id`)
  const markRead = db.prepare<{ convKey: string, userId: string, t: number, s: number, i: number }>(
    `INSERT INTO read_points (conv_key, user_id, server_time, seq, id) VALUES (@convKey, @userId, @t, @s, @i)
     ON CONFLICT (conv_key, user_id) DO UPDATE SET server_time = excluded.server_time, seq = excluded.seq, id = excluded.id
     WHERE (excluded.server_time, excluded.seq, excluded.id) > (read_points.server_time, read_points.seq, read_points.id)`)
  const readPoint = db.prepare<[string, string], { server_time: number, seq: number, id: number }>(
    'SELECT server_time, seq, id FROM read_points WHERE conv_key = ? AND user_id = ?')
  const deleteFor = db.prepare('INSERT OR IGNORE INTO deletions (conv_key, user_id, message_id) VALUES (?, ?, ?)')
  const clearFor = db.prepare<[string, string, string]>(
    `INSERT INTO clears (conv_key, user_id, up_to_id) SELECT ?, ?, coalesce(max(id), 0) FROM messages WHERE conv_key = ?
     ON CONFLICT (conv_key, user_id) DO UPDATE SET up_to_id = max(clears.up_to_id, excluded.up_to_id)`)
  const insertGroup = db.prepare('INSERT INTO groups (group_id, group_name, owner, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
  const getGroup = db.prepare<[string], { group_id: string, group_name: string, owner: string }>('SELECT group_id, group_name, owner FROM groups WHERE group_id = ?')
  const members = db.prepare<[string], { user_id: string, role: number }>('SELECT user_id, role FROM group_members WHERE group_id = ? ORDER BY joined_at, user_id')
  // joined_at is a per-group counter: join order survives any clock.
  const setMember = db.prepare<{ groupId: string, userId: string, role: number }>(
    `INSERT INTO group_members (group_id, user_id, role, joined_at)
     VALUES (@groupId, @userId, @role, (SELECT coalesce(max(joined_at), 0) + 1 FROM group_members WHERE group_id = @groupId))
     ON CONFLICT (group_id, user_id) DO UPDATE SET role = excluded.role`)
  const roleOf = db.prepare<[string, string], { role: number }>('SELECT role FROM group_members WHERE group_id = ? AND user_id = ?')
  const removeMember = db.prepare('DELETE FROM group_members WHERE group_id = ? AND user_id = ?')
  const claimKey = db.prepare<[string, string, string, number]>('INSERT INTO idempotency_keys (owner, key, request_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING')
  const getKey = db.prepare<[string, string], { request_hash: string, status: number | null, body: string | null, created_at: number }>(
    'SELECT request_hash, status, body, created_at FROM idempotency_keys WHERE owner = ? AND key = ?')
  const expireKeys = db.prepare('DELETE FROM idempotency_keys WHERE created_at < ?')
  const retakeKey = db.prepare<[number, string, string, string, number]>(
    'UPDATE idempotency_keys SET created_at = ? WHERE owner = ? AND key = ? AND request_hash = ? AND status IS NULL AND created_at < ?')
  const keysCarrying = db.prepare<[string], { owner: string, key: string, body: string }>(
    'SELECT k.owner, k.key, k.body FROM idempotency_refs r JOIN idempotency_keys k ON k.owner = r.owner AND k.key = r.key WHERE r.msg_id = ?')
  const insertKeyRef = db.prepare<[string, string, string]>('INSERT OR IGNORE INTO idempotency_refs (msg_id, owner, key) VALUES (?, ?, ?)')
  const rewriteKey = db.prepare('UPDATE idempotency_keys SET body = ? WHERE owner = ? AND key = ?')
  const completeKey = db.prepare('UPDATE idempotency_keys SET status = ?, body = ? WHERE owner = ? AND key = ?')
  const releaseKey = db.prepare('DELETE FROM idempotency_keys WHERE owner = ? AND key = ?')
  const ping = db.prepare('SELECT 1')
  const insertRef = db.prepare<[string, string, number]>('INSERT OR IGNORE INTO message_refs (ref, conv_key, message_id) VALUES (?, ?, ?)')
  const deleteRefs = db.prepare<[number]>('DELETE FROM message_refs WHERE message_id = ?')
  // C2C: the viewer is one of the two users of the key "c2c:<a>\n<b>"; groups: a member now.
  const byRef = db.prepare<{ ref: string, viewer: string, anyGroup: number }, Row>(
    `SELECT ${COLUMNS} FROM messages WHERE id = (
       SELECT r.message_id FROM message_refs r JOIN messages m ON m.id = r.message_id
       WHERE r.ref = @ref AND (m.owner = @viewer OR (m.owner IS NULL AND (
         (substr(r.conv_key, 1, 4) = 'c2c:' AND @viewer IN (
           substr(r.conv_key, 5, instr(r.conv_key, char(10)) - 5), substr(r.conv_key, instr(r.conv_key, char(10)) + 1)))
         OR (substr(r.conv_key, 1, 6) = 'group:' AND (@anyGroup = 1 OR EXISTS (
           SELECT 1 FROM group_members gm WHERE gm.group_id = substr(r.conv_key, 7) AND gm.user_id = @viewer))))))
       ORDER BY r.message_id DESC LIMIT 1)`)

  /**
   * Seqs handed out by the running write: a conversation's row is upserted for its first
   * message and counted here for the rest (a 1000-message import: one upsert, not 1000),
   * then written back by withSeqs before the write's transaction commits. `write` runs
   * every write inside withSeqs.
   */
  const counted = new Map<string, { seq: number, time: number, dirty: boolean }>()
  const nextSeqOf = (convKey: string, time: number | null): { seq: number, time: number } => {
    const c = counted.get(convKey)
    if (c === undefined) {
      const row = nextSeq.get({ convKey, time })!
      counted.set(convKey, { seq: row.last_seq, time: row.last_time, dirty: false })
      return { seq: row.last_seq, time: row.last_time }
    }
    c.seq += 1
    if (time !== null) c.time = Math.max(c.time, time)
    c.dirty = true
    return { seq: c.seq, time: c.time }
  }
  const withSeqs = <T>(run: () => T): T => {
    counted.clear()
    const result = run()
    for (const [convKey, c] of counted) if (c.dirty) setSeq.run(c.seq, c.time, convKey)
    counted.clear()
    return result
  }

  const insertOne = (m: NewMessage): StoredMessage => {
    if (m.origin === Origin.Imported) {
      const existing = imported.get(m.convKey, m.sender, m.serverTime, m.rand)
      if (existing !== undefined) return toMessage(byId.get({ id: existing.id, convKey: m.convKey, viewer: m.sender })!)
    }
    let seq = 0
    let serverTime = m.serverTime
    if (m.owner === null && m.origin !== Origin.Imported) {
      ({ seq, time: serverTime } = nextSeqOf(m.convKey, m.serverTime))
    } else if (m.owner === null) {
      seq = nextSeqOf(m.convKey, null).seq
    }
    const id = Number(insert.run(m.convKey, seq, m.sender, m.owner, serverTime, m.clientTime, m.rand, m.status, m.origin, m.elemMask, JSON.stringify(m.content)).lastInsertRowid)
    for (const ref of mediaRefsOf(m.content)) insertRef.run(ref, m.convKey, id)
    // Field by field: a spread of `m` here cost as much as the INSERT.
    return {
      id, convKey: m.convKey, seq, sender: m.sender, owner: m.owner, serverTime, clientTime: m.clientTime, rand: m.rand,
      status: m.status, origin: m.origin, revoker: null, deleted: false, content: m.content,
    }
  }
  // Each write below runs inside the transaction that group commit opens for it, and
  // inside withSeqs, so that any write may insert messages.
  const commit = groupCommit(db)
  const write: Write = (run, options) => commit(() => withSeqs(run), options)
  const revokeOne = (id: number, revoker: string) => {
    revoke.run({ id, revoker })
    deleteRefs.run(id)
  }
  const allocate = () => {
    seedId.run()
    return bumpId.get()!.seq
  }
  const createGroup = (g: Group, tips: NewMessage | undefined, now: number): boolean => {
    if (insertGroup.run(g.groupId, g.name, g.owner, now).changes === 0) return false
    for (const m of g.members) setMember.run({ groupId: g.groupId, userId: m.userId, role: m.role })
    if (tips !== undefined) insertOne(tips)
    return true
  }
  const changeGroup = (groupId: string, userId: string, role: GroupRole | null, tips: NewMessage): boolean => {
    // Checked again inside the transaction: racing identical changes apply (and tip) once.
    if ((roleOf.get(groupId, userId)?.role ?? null) === role) return false
    if (role === null) removeMember.run(groupId, userId)
    else setMember.run({ groupId, userId, role })
    insertOne(tips)
    return true
  }
  const claim = (owner: string, key: string, hash: string, now: number): IdempotencyClaim => {
    expireKeys.run(now - IDEMPOTENCY_TTL_S)
    if (claimKey.run(owner, key, hash, now).changes === 1) return { state: 'claimed' }
    if (retakeKey.run(now, owner, key, hash, now - IDEMPOTENCY_PENDING_S).changes === 1) return { state: 'claimed' }
    const row = getKey.get(owner, key)!
    if (row.request_hash !== hash) return { state: 'mismatch' }
    if (row.status === null || row.body === null) return { state: 'pending' }
    return { state: 'done', status: row.status, body: row.body }
  }

  return {
    kind: 'sqlite',
    async insertMessages (messages) {
      return write(() => messages.map(insertOne))
    },
    async allocateId () {
      return write(allocate)
    },
    async getMessage (convKey, viewer, id) {
      const row = byId.get({ id, convKey, viewer })
      return row === undefined ? undefined : toMessage(row)
    },
    async findByLocators (convKey: string, viewer: string, locators: Locator[]) {
      return locators.map(l => {
        const row = byLocator.get({ convKey, viewer, seq: l.seq, rand: l.rand, time: l.time })
        return row === undefined ? undefined : toMessage(row)
      })
    },
    async newest (convKey, viewer) {
      const row = newest.get({ convKey, viewer })
      return row === undefined ? undefined : toMessage(row)
    },
    async listHistory (q: HistoryQuery) {
      const { lo, hi } = historyBounds(q)
      const params = {
        convKey: q.convKey,
        viewer: q.viewer,
        mask: q.elemMask ?? 0,
        loT: lo.serverTime,
        loS: lo.seq,
        loI: lo.id,
        hiT: hi.serverTime,
        hiS: hi.seq,
        hiI: hi.id,
        limit: q.limit,
      }
      return (q.forward ? newer : older).all(params).map(toMessage)
    },
    async revoke (id, revoker) {
      // The WAL still holds the page images with the content until a checkpoint.
      await write(() => revokeOne(id, revoker), { checkpoint: true })
    },
    async findMessageByRef (ref, viewer, anyGroup = false) {
      const row = byRef.get({ ref, viewer, anyGroup: anyGroup ? 1 : 0 })
      return row === undefined ? undefined : toMessage(row)
    },
    async markRead (convKey, userId, to) {
      await write(() => markRead.run({ convKey, userId, t: to.serverTime, s: to.seq, i: to.id }))
    },
    async readPoint (convKey, userId) {
      const row = readPoint.get(convKey, userId)
      return row === undefined ? undefined : { serverTime: row.server_time, seq: row.seq, id: row.id }
    },
    async deleteFor (convKey, userId, messageId) {
      await write(() => deleteFor.run(convKey, userId, messageId))
    },
    async clearFor (convKey, userId) {
      await write(() => clearFor.run(convKey, userId, convKey))
    },
    async createGroup (group, tips) {
      return write(() => createGroup(group, tips, Math.floor(Date.now() / 1000)))
    },
    async getGroup (groupId) {
      const g = getGroup.get(groupId)
      if (g === undefined) return undefined
      return {
        groupId: g.group_id,
        name: g.group_name,
        owner: g.owner,
        members: members.all(groupId).map(m => ({ userId: m.user_id, role: m.role as GroupRole })),
      }
    },
    async changeGroup (groupId, change, tips) {
      return write(() => changeGroup(groupId, change.userId, change.role, tips))
    },
    async claimIdempotencyKey (owner, key, requestHash, now) {
      return write(() => claim(owner, key, requestHash, now))
    },
    async completeIdempotencyKey (owner, key, status, body) {
      await write(() => {
        completeKey.run(status, body, owner, key)
        for (const msgId of msgIdsIn(body)) insertKeyRef.run(msgId, owner, key)
      })
    },
    async releaseIdempotencyKey (owner, key) {
      await write(() => releaseKey.run(owner, key))
    },
    async scrubIdempotentResponses (msgId, scrub) {
      await write(() => {
        for (const row of keysCarrying.all(msgId)) rewriteKey.run(scrub(row.body), row.owner, row.key)
      })
    },
    async ping () {
      ping.get()
    },
    async close () {
      // The worker's connection goes first, so that closing the last one removes the WAL.
      await checkpointer.stop()
      db.close()
    },
  }
}
