import type { Database } from 'better-sqlite3'
import { EventType, historyBounds, Origin, type HistoryPosition, type MessageStore, type NewMessage, type StoredMessage } from '../store.js'
import { contentJson, rowToMessage as toMessage, type MessageRow as Row } from '../rows.js'
import type { Write } from './group-commit.js'
import type { Seqs } from './seqs.js'
import type { EventAppender } from './events.js'
import type { SqliteSearch } from './search.js'

/** Every select names @viewer: saved messages are the owner's, deletions are per user. */
const COLUMNS = `id, conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, revoker, content,
  (id <= coalesce((SELECT up_to_id FROM clears c WHERE c.conv_key = messages.conv_key AND c.user_id = @viewer), 0)
   OR EXISTS (SELECT 1 FROM deletions d WHERE d.conv_key = messages.conv_key AND d.user_id = @viewer AND d.message_id = messages.id)) AS deleted`
/** The columns of a history page: its range already leaves out what the viewer deleted. */
const PAGE_COLUMNS = 'id, conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, revoker, content, 0 AS deleted'
const VISIBLE = '(owner IS NULL OR owner = @viewer)'

/** The message store on one SQLite connection; `insertOne` also serves the group store's tips. */
export interface SqliteMessages {
  store: MessageStore
  /** Stores one message inside the running write. */
  insertOne (m: NewMessage): StoredMessage
  /** Moves a read point inside the running write (MessageStore.markRead). */
  moveRead (convKey: string, userId: string, to: HistoryPosition, receipt: boolean): void
  /** Deletes the conversation's history for the user inside the running write (MessageStore.clearFor). */
  clear (convKey: string, userId: string): void
}

export function sqliteMessages (db: Database, write: Write, seqs: Seqs, events: EventAppender, search: SqliteSearch, now: () => number): SqliteMessages {
  const INSERT = 'INSERT INTO messages (conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content, tally) ' +
    'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'
  const insert = db.prepare<unknown[]>(INSERT)
  const insertImported = db.prepare<unknown[]>(`${INSERT} ON CONFLICT (conv_key, sender, server_time, rand) WHERE origin = ${Origin.Imported} DO NOTHING`)
  const insertRef = db.prepare<[string, string, number]>('INSERT OR IGNORE INTO message_refs (ref, conv_key, message_id) VALUES (?, ?, ?)')
  // Answered from the messages_import index alone.
  const imported = db.prepare<[string, string, number, number], { id: number }>(
    `SELECT id FROM messages WHERE conv_key = ? AND sender = ? AND server_time = ? AND rand = ? AND origin = ${Origin.Imported}`)
  const bumpId = db.prepare<[], { seq: number }>("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'messages' RETURNING seq")
  const seedId = db.prepare("INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', 1 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages')")
  const byId = db.prepare<{ id: number, convKey: string, viewer: string }, Row>(
    `SELECT ${COLUMNS} FROM messages WHERE id = @id AND conv_key = @convKey AND ${VISIBLE}`)
  const byLocator = db.prepare<{ convKey: string, viewer: string, seq: number, rand: number, time: number }, Row>(
    `SELECT ${COLUMNS} FROM messages INDEXED BY messages_history
     WHERE conv_key = @convKey AND server_time = @time AND seq = @seq AND rand = @rand AND ${VISIBLE} ORDER BY id LIMIT 1`)
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
  const revoke = db.prepare<{ id: number, convKey: string, status: number, revoker: string, elemMask: number, content: string }>(
    'UPDATE messages SET status = @status, revoker = @revoker, elem_mask = @elemMask, content = @content WHERE id = @id AND conv_key = @convKey')
  const deleteRefs = db.prepare<[number]>('DELETE FROM message_refs WHERE message_id = ?')
  const markRead = db.prepare<{ convKey: string, userId: string, t: number, s: number, i: number }, { id: number }>(
    `INSERT INTO read_points (conv_key, user_id, server_time, seq, id) VALUES (@convKey, @userId, @t, @s, @i)
     ON CONFLICT (conv_key, user_id) DO UPDATE SET server_time = excluded.server_time, seq = excluded.seq, id = excluded.id
     WHERE (excluded.server_time, excluded.seq, excluded.id) > (read_points.server_time, read_points.seq, read_points.id)
     RETURNING id`)
  // The read point as a tally: that of the newest sent or server-made message at or before
  // it (their history order is seq order, so that many countable messages lie at or before it).
  const floorAt = db.prepare<{ convKey: string, t: number, s: number, i: number }, { tally: number }>(
    `SELECT tally FROM messages INDEXED BY messages_history WHERE conv_key = @convKey AND (server_time, seq, id) <= (@t, @s, @i)
     AND owner IS NULL AND origin IN (${Origin.Sent}, ${Origin.Server}) ORDER BY server_time DESC, seq DESC, id DESC LIMIT 1`)
  // The reader's own countable messages past that tally: all after the read point.
  const ownAfter = db.prepare<{ convKey: string, userId: string, t: number, s: number, i: number, floor: number }, { n: number }>(
    `SELECT count(*) AS n FROM messages INDEXED BY messages_history WHERE conv_key = @convKey AND (server_time, seq, id) > (@t, @s, @i)
     AND owner IS NULL AND origin = ${Origin.Sent} AND sender = @userId AND tally > @floor`)
  // SET reads the row as it was: floor_sent's CASE sees the old floor.
  const setFloor = db.prepare<{ convKey: string, userId: string, floor: number, own: number, aheadFrom: number, aheadTo: number }>(
    `UPDATE user_conversations SET floor_sent = CASE WHEN @floor > floor THEN sent - @own ELSE floor_sent END, floor = max(floor, @floor),
       ahead_from = @aheadFrom, ahead_to = @aheadTo
     WHERE user_id = @userId AND conv_key = @convKey`)
  const clearFloor = db.prepare<{ convKey: string, userId: string, tally: number }>(
    'UPDATE user_conversations SET floor = max(floor, @tally), floor_sent = sent WHERE user_id = @userId AND conv_key = @convKey')
  // One by one deletions that a "delete all" covers say nothing more.
  const pruneDeletions = db.prepare<{ convKey: string, userId: string }>(
    `DELETE FROM deletions WHERE conv_key = @convKey AND user_id = @userId
     AND message_id <= (SELECT up_to_id FROM clears WHERE conv_key = @convKey AND user_id = @userId)`)
  const readPoint = db.prepare<[string, string], { server_time: number, seq: number, id: number }>(
    'SELECT server_time, seq, id FROM read_points WHERE conv_key = ? AND user_id = ?')
  const readPoints = db.prepare<[string], { user_id: string, server_time: number, seq: number, id: number }>(
    'SELECT user_id, server_time, seq, id FROM read_points WHERE conv_key = ?')
  const shared = db.prepare<[number, string], Row>(`SELECT ${PAGE_COLUMNS} FROM messages WHERE id = ? AND conv_key = ? AND owner IS NULL`)
  const deleteFor = db.prepare('INSERT OR IGNORE INTO deletions (conv_key, user_id, message_id) VALUES (?, ?, ?)')
  const clearFor = db.prepare<[string, string, string]>(
    `INSERT INTO clears (conv_key, user_id, up_to_id) SELECT ?, ?, coalesce(max(id), 0) FROM messages WHERE conv_key = ?
     ON CONFLICT (conv_key, user_id) DO UPDATE SET up_to_id = max(clears.up_to_id, excluded.up_to_id)`)
  // Visible: the viewer's own saved message, a C2C message of a thread it is one of the two
  // users of, or a group message of a group it is a member of now (any group with @anyGroup).
  const byRef = db.prepare<{ ref: string, viewer: string, anyGroup: number }, Row>(
    `SELECT ${COLUMNS} FROM messages WHERE id = (
       SELECT r.message_id FROM message_refs r JOIN messages m ON m.id = r.message_id
         LEFT JOIN conversations c ON c.conv_key = r.conv_key
       WHERE r.ref = @ref AND (m.owner = @viewer OR (m.owner IS NULL AND (
         @viewer IN (c.user_a, c.user_b)
         OR (c.user_a IS NULL AND (@anyGroup = 1 OR EXISTS (
           SELECT 1 FROM group_members gm WHERE gm.conv_key = r.conv_key AND gm.user_id = @viewer))))))
       ORDER BY r.message_id DESC LIMIT 1)`)

  const one = (row: Row | undefined) => row === undefined ? undefined : toMessage(row)
  // The event hub's reads of a page (a statement per message or conversation), each in one
  // read transaction: outside one every statement takes and drops the WAL read lock.
  const readPointsOf = db.transaction((convKeys: readonly string[]) =>
    [...new Set(convKeys)].flatMap(convKey => readPoints.all(convKey).map(r => ({
      convKey, userId: r.user_id, at: { serverTime: r.server_time, seq: r.seq, id: r.id },
    }))))
  const sharedOf = db.transaction((refs: ReadonlyArray<{ convKey: string, id: number }>) => refs.flatMap(r => {
    const row = shared.get(r.id, r.convKey)
    return row === undefined ? [] : [toMessage(row)]
  }))

  /**
   * The users' rows a message changes: a shared C2C message both users' (listed again, their
   * activity, the sender's count), a shared group message its sender's count alone, a saved
   * message its owner's.
   */
  const touchRows = (m: NewMessage, time: number, countable: boolean) => {
    const key = m.conv.key
    const users = m.conv.users
    if (m.owner !== null) {
      const peer = users === undefined ? null : users[0] === m.owner ? users[1] : users[0]
      seqs.touch(m.owner, key, { group: users === undefined, peer, time, sent: 0, unhide: true })
    } else if (users !== undefined) {
      const [a, b] = users
      seqs.touch(a, key, { group: false, peer: b, time, sent: countable && m.sender === a ? 1 : 0, unhide: false })
      if (b !== a) seqs.touch(b, key, { group: false, peer: a, time, sent: countable && m.sender === b ? 1 : 0, unhide: false })
    } else if (countable) {
      seqs.touch(m.sender, key, { group: true, peer: null, time: 0, sent: 1, unhide: false })
    }
  }

  const moveRead = (convKey: string, userId: string, to: HistoryPosition, receipt: boolean): void => {
    const at = { convKey, t: to.serverTime, s: to.seq, i: to.id }
    if (markRead.get({ ...at, userId }) === undefined) return
    const floor = floorAt.get(at)?.tally ?? 0
    // A read point dated ahead of every sent message (an import from the near future): what
    // is sent until that time lies before it, and is read (counted off by `ahead_*`).
    const last = seqs.head(convKey).time
    const ahead = to.serverTime > last
    const own = ownAfter.get({ ...at, userId, floor })!.n
    setFloor.run({ convKey, userId, floor, own, aheadFrom: ahead ? last : 0, aheadTo: ahead ? to.serverTime : 0 })
    if (receipt) events.append(EventType.ReadReceipt, convKey, to.id, now(), userId)
  }

  const clear = (convKey: string, userId: string): void => {
    clearFor.run(convKey, userId, convKey)
    clearFloor.run({ convKey, userId, tally: seqs.head(convKey).tally })
    pruneDeletions.run({ convKey, userId })
  }

  const insertOne = (m: NewMessage): StoredMessage => {
    const convKey = m.conv.key
    let seq = 0
    let serverTime = m.serverTime
    let tally = 0
    const countable = m.owner === null && m.origin === Origin.Sent
    if (m.owner === null) {
      const next = seqs.next(m.conv, m.origin === Origin.Imported ? null : m.serverTime, m.serverTime, countable)
      seq = next.seq
      tally = next.tally
      if (m.origin !== Origin.Imported) serverTime = next.time
    }
    // An import meets its twin in the messages_import index as it inserts: no lookup first.
    const imports = m.origin === Origin.Imported
    const done = (imports ? insertImported : insert)
      .run(convKey, seq, m.sender, m.owner, serverTime, m.clientTime, m.rand, m.status, m.origin, m.elemMask, contentJson(m.content), tally)
    if (imports && done.changes === 0) {
      // Imported before (this call or another): that message, and its seq not spent.
      if (m.owner === null) seqs.giveBack(convKey)
      const existing = imported.get(convKey, m.sender, m.serverTime, m.rand)!
      return toMessage(byId.get({ id: existing.id, convKey, viewer: m.sender })!)
    }
    const id = Number(done.lastInsertRowid)
    touchRows(m, serverTime, countable)
    for (const ref of m.refs) insertRef.run(ref, convKey, id)
    if (m.event) events.append(EventType.Message, convKey, id, serverTime)
    search.add({ id, convKey, seq, serverTime, sender: m.sender, elemMask: m.elemMask, content: m.content }, m.owner)
    // Field by field: a spread of `m` here cost as much as the INSERT.
    return {
      id, convKey, seq, sender: m.sender, owner: m.owner, serverTime, clientTime: m.clientTime, rand: m.rand,
      status: m.status, origin: m.origin, revoker: null, deleted: false, content: m.content,
    }
  }

  const readPointOf = (convKey: string, userId: string): HistoryPosition | undefined => {
    const row = readPoint.get(convKey, userId)
    return row === undefined ? undefined : { serverTime: row.server_time, seq: row.seq, id: row.id }
  }

  const store: MessageStore = {
    async insert (messages) {
      return write(() => messages.map(insertOne))
    },
    async insertReading (messages, reader) {
      return write(() => ({ stored: messages.map(insertOne), readPoint: readPointOf(messages[0]!.conv.key, reader) }))
    },
    async allocateId () {
      return write(() => {
        seedId.run()
        return bumpId.get()!.seq
      })
    },
    async get (convKey, viewer, id) {
      return one(byId.get({ id, convKey, viewer }))
    },
    async findByLocators (convKey, viewer, locators) {
      return locators.map(l => one(byLocator.get({ convKey, viewer, seq: l.seq, rand: l.rand, time: l.time })))
    },
    async newest (convKey, viewer) {
      return one(newest.get({ convKey, viewer }))
    },
    async history (q) {
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
    async revoke (convKey, id, t) {
      // The WAL still holds the page images with the content until a checkpoint.
      await write(() => {
        search.remove(convKey, id)
        revoke.run({ id, convKey, status: t.status, revoker: t.revoker, elemMask: t.elemMask, content: JSON.stringify(t.content) })
        deleteRefs.run(id)
        events.append(EventType.Revoke, convKey, id, now(), t.revoker)
      }, { checkpoint: true })
    },
    async findByRef (ref, viewer, anyGroup = false) {
      return one(byRef.get({ ref, viewer, anyGroup: anyGroup ? 1 : 0 }))
    },
    async markRead (convKey, userId, to, receipt) {
      await write(() => moveRead(convKey, userId, to, receipt))
    },
    async readPoint (convKey, userId) {
      return readPointOf(convKey, userId)
    },
    async readPoints (convKeys) {
      return readPointsOf(convKeys)
    },
    async sharedMany (refs) {
      return sharedOf(refs)
    },
    async deleteFor (convKey, userId, messageId) {
      await write(() => deleteFor.run(convKey, userId, messageId))
    },
    async clearFor (convKey, userId) {
      await write(() => clear(convKey, userId))
    },
  }
  return { store, insertOne, moveRead, clear }
}
