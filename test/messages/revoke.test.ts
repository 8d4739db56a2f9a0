import t from 'tap'
import Database from 'better-sqlite3'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { pgClientConfig } from '../../db/postgres/pool.js'
import { build, text } from '../helper.js'

type Msg = Record<string, unknown> & { message_msg_id: string, message_seq: number, message_rand: number, message_server_time: number }
const locator = (m: Msg) => ({ message_locator_seq: m.message_seq, message_locator_rand: m.message_rand, message_locator_time: m.message_server_time })

t.test('when the sender revokes the message returned by send (the seed\'s flow), then a tombstone stays for everyone', async t => {
  const g = await build(t)
  const sent: Msg = (await g.call('user1', 'POST', '/conversations/c2c_test_win_03/messages', text('send text', { message_cloud_custom_str: 'secret' }))).json()
  const res = await g.call('user1', 'POST', '/conversations/c2c_test_win_03/revoke', sent)
  t.equal(res.statusCode, 200)
  const tomb = res.json()
  t.equal(tomb.message_status, 6)
  t.same(tomb.message_elem_array, [])
  t.notOk('message_cloud_custom_str' in tomb, 'the content is erased, not just hidden')
  t.equal(tomb.message_revoker_user_id, 'user1')
  t.equal(tomb.message_msg_id, sent.message_msg_id)
  t.equal(tomb.message_seq, sent.message_seq)

  const listed = (await g.call('test_win_03', 'GET', '/conversations/c2c_user1/messages')).json()
  t.equal(listed.length, 1, 'still listed')
  t.equal(listed[0].message_status, 6)
  t.same(listed[0].message_elem_array, [])
  const found = (await g.call('test_win_03', 'POST', '/conversations/c2c_user1/messages/find', [{ ...locator(sent), message_locator_is_revoked: true }])).json()
  t.equal(found[0].message_status, 6, 'found by locator')

  const again = await g.call('user1', 'POST', '/conversations/c2c_test_win_03/revoke', sent)
  t.equal(again.statusCode, 200, 'revoking a tombstone returns it')
  t.same(again.json(), tomb)

  if (g.app.store.kind === 'postgres') {
    // The server's files are PostgreSQL's own: the rows are what the gateway answers for.
    const client = new pg.Client(pgClientConfig(g.config.databaseUrl!))
    await client.connect()
    t.teardown(() => client.end())
    const { rows } = await client.query<{ content: string }>('SELECT content FROM messages')
    t.notOk(rows.some(r => r.content.includes('send text') || r.content.includes('secret')), 'nothing of the content is left in the rows')
    return
  }
  const db = new Database(join(g.config.dataDir, 'timgate.db'), { readonly: true })
  t.teardown(() => db.close())
  const rows = db.prepare('SELECT content FROM messages').all() as Array<{ content: string }>
  t.notOk(rows.some(r => r.content.includes('send text') || r.content.includes('secret')), 'nothing of the content is left in the rows')
  for (const file of ['timgate.db', 'timgate.db-wal']) {
    const path = join(g.config.dataDir, file)
    const bytes = existsSync(path) ? readFileSync(path) : Buffer.alloc(0)
    t.equal(bytes.indexOf('send text'), -1, `nor anywhere in ${file}`)
  }
})

t.test('when the revoke window has passed, then the sender gets 403 20016, the app admin still may', async t => {
  let clock = 1_800_000_000
  const g = await build(t, { TIM_REVOKE_WINDOW_S: '120' }, { now: () => clock })
  const m: Msg = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('late'))).json()
  clock += 120
  const atLimit = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('edge'))).json()
  clock += 1
  const late = await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', m)
  t.equal(late.statusCode, 403)
  t.equal(late.json().code, 20016)
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', atLimit)).statusCode, 200, 'within the window')
  const admin = await g.call(g.config.adminIdentifier, 'POST', '/conversations/c2c_bob/revoke', m, { 'x-tim-on-behalf-of': 'alice' })
  t.equal(admin.statusCode, 200)
  t.equal(admin.json().message_revoker_user_id, 'alice', 'the user the request acts as')
})

t.test('when the window is 0, then there is no limit', async t => {
  let clock = 1_800_000_000
  const g = await build(t, { TIM_REVOKE_WINDOW_S: '0' }, { now: () => clock })
  const m: Msg = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('old'))).json()
  clock += 10 * 365 * 86400
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', m)).statusCode, 200)
})

t.test('when someone else revokes a C2C message, or the message is unknown, then 403 or 404 and nothing changes', async t => {
  const g = await build(t)
  const m: Msg = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('mine'))).json()
  const peer = await g.call('bob', 'POST', '/conversations/c2c_alice/revoke', m)
  t.equal(peer.statusCode, 403)
  t.equal(peer.json().code, 10007)
  const stranger = await g.call('carol', 'POST', '/conversations/c2c_alice/revoke', m)
  t.equal(stranger.statusCode, 404, 'a message of another conversation is unknown there')
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', { message_msg_id: '1-2-3' })).statusCode, 404)
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', {})).statusCode, 400, 'revoke needs a message')
  const [still] = (await g.call('bob', 'GET', '/conversations/c2c_alice/messages')).json()
  t.equal(still.message_status, 2)
  t.same(still.message_elem_array, m.message_elem_array)
  const byLocator = await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', { message_seq: m.message_seq, message_rand: m.message_rand, message_server_time: m.message_server_time })
  t.equal(byLocator.statusCode, 200, 'found by seq + rand + time without msg_id')
})
