import { join } from 'node:path'
import type { ConvRef, NewMessage, Store } from '../../db/store.js'
import { Origin } from '../../db/store.js'
import { openSqliteStore } from '../../db/sqlite/sqlite-store.js'
import { openPgStore } from '../../db/postgres/pg-store.js'
import { freshSchema, tempDir, type TestContext } from '../helper.js'

/**
 * The store under test: PostgreSQL on a fresh schema when TIMGATE_TEST_PG is set (the
 * suite's PostgreSQL half), else SQLite on a fresh file. The contract tests hold every
 * adapter to the ports of db/store.ts through this alone.
 */
export async function openStore (t: TestContext, now?: () => number): Promise<Store> {
  const pg = process.env.TIMGATE_TEST_PG
  const store = pg !== undefined && pg !== ''
    ? await openPgStore(freshSchema(t, pg))
    : openSqliteStore(join(tempDir(t), 'timgate.db'), { ...(now !== undefined && { now }) })
  t.teardown(() => store.close())
  return store
}

export const c2c = (a: string, b: string): ConvRef => {
  const users: [string, string] = a < b ? [a, b] : [b, a]
  return { key: `t:${users.join('|')}`, users }
}
export const group = (id: string): ConvRef => ({ key: `g:${id}` })

let clock = 1_700_000_000

/** A message to store, sent by default; `text` is its one element. */
export function draft (conv: ConvRef, sender: string, text: string, extra: Partial<NewMessage> = {}): NewMessage {
  return {
    conv,
    sender,
    owner: null,
    serverTime: ++clock,
    clientTime: clock,
    rand: clock % 65536,
    status: 2,
    origin: Origin.Sent,
    elemMask: 1,
    content: { message_elem_array: [{ elem_type: 0, text_elem_content: text }] },
    refs: [],
    event: true,
    ...extra,
  }
}
