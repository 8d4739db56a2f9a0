import type { Origin, StoredMessage } from './store.js'

/** A messages row as both adapters select it (with the viewer's `deleted` flag). */
export interface MessageRow {
  id: number
  conv_key: string
  seq: number
  sender: string
  owner: string | null
  server_time: number
  client_time: number
  rand: number
  status: number
  origin: number
  revoker: string | null
  /** SQLite answers 0/1, PostgreSQL a boolean. */
  deleted: boolean | number
  content: string
}

/** A row mapped field by field to the port's StoredMessage. */
export function rowToMessage (row: MessageRow): StoredMessage {
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
    origin: row.origin as Origin,
    revoker: row.revoker,
    deleted: row.deleted === true || row.deleted === 1,
    content: JSON.parse(row.content) as StoredMessage['content'],
  }
}

const serialized = new WeakMap<StoredMessage['content'], string>()

/**
 * A message's content as the JSON text it is stored as, made once per content object: a
 * batch send stores one content for up to 500 recipients, and an import's contents are
 * serialized ahead, in slices, before the write that stores them.
 */
export function contentJson (content: StoredMessage['content']): string {
  let text = serialized.get(content)
  if (text === undefined) {
    text = JSON.stringify(content)
    serialized.set(content, text)
  }
  return text
}
