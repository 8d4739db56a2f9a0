import Database from 'better-sqlite3'
import { fileURLToPath } from 'node:url'
import { historyBounds, type HistoryQuery, type Locator, type NewMessage, type Store, type StoredMessage } from '../store.js'
import { migrate } from './migrate.js'

const MIGRATIONS = fileURLToPath(new URL('./migrations/', import.meta.url))

interface Row {
  id: number
  conv_key: string
  seq: number
  sender: string
  owner: string | null
  server_time: number
  client_time: number
  rand: number
  status: number
  content: string
}

const COLUMNS = 'id, conv_key, seq, sender, owner, server_time, client_time, rand, status, content'
const VISIBLE = '(owner IS NULL OR owner = @viewer)'

function toMessage (row: Row): StoredMessage {
  return {
    id: row.id,
    convKey: row.conv_key,
    seq: row.seq,
    sender: row.sender,
    owner: row.owner,
    serverTime: row.server_time,
    clientTime: row.client_time,
    rand: row.rand,
    status: row.status,
    content: JSON.parse(row.content) as StoredMessage['content'],
  }
}

/** Opens (creating and migrating) the SQLite database at `file`. */
export function openSqliteStore (file: string): Store {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  // NORMAL in WAL mode: a commit survives a crash of the process; a power loss may
  // take the last commits (README, "Durability").
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  migrate(db, MIGRATIONS)

  const nextSeq = db.prepare<[string], { last_seq: number }>(
    'INSERT INTO conversations (conv_key, last_seq) VALUES (?, 1) ' +
    'ON CONFLICT (conv_key) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq')
  const insert = db.prepare<unknown[], { id: number }>(
    'INSERT INTO messages (conv_key, seq, sender, owner, server_time, client_time, rand, status, elem_mask, content) ' +
    'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id')
  const byId = db.prepare<{ id: number, convKey: string, viewer: string }, Row>(
    `SELECT ${COLUMNS} FROM messages WHERE id = @id AND conv_key = @convKey AND ${VISIBLE}`)
  const byLocator = db.prepare<{ convKey: string, viewer: string, seq: number, rand: number, time: number }, Row>(
    `SELECT ${COLUMNS} FROM messages INDEXED BY messages_locator
     WHERE conv_key = @convKey AND seq = @seq AND rand = @rand AND server_time = @time AND ${VISIBLE} LIMIT 1`)
  // Both ends of the walk are row values over the history index, so a page is one
  // index range whatever the conversation's size (the time filter folds into them).
  const range = `conv_key = @convKey AND (server_time, seq, id) > (@loT, @loS, @loI) AND (server_time, seq, id) < (@hiT, @hiS, @hiI)
     AND ${VISIBLE} AND (@mask = 0 OR (elem_mask & @mask) != 0)`
  const older = db.prepare<Record<string, unknown>, Row>(
    `SELECT ${COLUMNS} FROM messages INDEXED BY messages_history WHERE ${range}
     ORDER BY server_time DESC, seq DESC, id DESC LIMIT @limit`)
  const newer = db.prepare<Record<string, unknown>, Row>(
    `SELECT ${COLUMNS} FROM messages INDEXED BY messages_history WHERE ${range}
     ORDER BY server_time, seq, id LIMIT @limit`)
  const ping = db.prepare('SELECT 1')

  const insertAll = db.transaction((messages: NewMessage[]): StoredMessage[] => messages.map(m => {
    const seq = m.owner === null ? nextSeq.get(m.convKey)!.last_seq : 0
    const { id } = insert.get(m.convKey, seq, m.sender, m.owner, m.serverTime, m.clientTime, m.rand, m.status, m.elemMask, JSON.stringify(m.content))!
    return { id, convKey: m.convKey, seq, sender: m.sender, owner: m.owner, serverTime: m.serverTime, clientTime: m.clientTime, rand: m.rand, status: m.status, content: m.content }
  }))

  return {
    async insertMessages (messages) {
      return insertAll.immediate(messages)
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
    async ping () {
      ping.get()
    },
    async close () {
      db.close()
    },
  }
}
