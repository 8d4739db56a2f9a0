import t from 'tap'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { build, testConfig, text, type TestApp } from '../helper.js'

/**
 * Migration 011 fills the conversation list from the data before it. The check: a history
 * made through the gateway (every kind of message, reads, deletions, joins and kicks),
 * then the schema taken back to before 011, then the gateway opened again (which migrates):
 * every user's list, counts and last messages are what the live bookkeeping had made.
 */

const undo011 = [
  'DROP TABLE user_conversations',
  'DROP INDEX messages_revoked',
  'ALTER TABLE messages DROP COLUMN tally',
  'ALTER TABLE conversations DROP COLUMN tally',
  'ALTER TABLE conversations DROP COLUMN active_time',
  'DELETE FROM schema_migrations WHERE version = 11',
]

async function history (g: TestApp): Promise<void> {
  const ok = async (user: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const res = await g.call(user, method, url, body)
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return (res.body === '' ? {} : res.json()) as { message_msg_id: string }
  }
  const sent = []
  for (let i = 0; i < 4; i++) sent.push(await ok('alice', 'POST', '/conversations/c2c_bob/messages', text(`a${i}`)))
  await ok('bob', 'POST', '/conversations/c2c_alice/messages', text('b'))
  await ok('alice', 'POST', '/conversations/c2c_bob/messages/import', [text('old', { message_server_time: 1_700_000_000 })])
  await ok('bob', 'POST', '/conversations/c2c_alice/read', { message_msg_id: sent[0]!.message_msg_id })
  await ok('alice', 'POST', '/conversations/c2c_bob/revoke', { message_msg_id: sent[3]!.message_msg_id })
  await g.call('bob', 'DELETE', `/conversations/c2c_alice/messages/${sent[2]!.message_msg_id}`)
  await ok('carol', 'POST', '/conversations/c2c_bob/messages', text('c'))
  await g.call('bob', 'DELETE', '/conversations/c2c_carol/messages')
  await ok('carol', 'POST', '/conversations/c2c_bob/messages', text('c again'))
  await ok('dave', 'POST', '/conversations/c2c_erin/messages/save', text('mine'))
  await ok('olive', 'POST', '/groups', { group_id: 'mg', group_member_array: ['bob'] })
  await ok('olive', 'POST', '/conversations/group_mg/messages', text('before max'))
  await ok('olive', 'PUT', '/groups/mg/members/max')
  await ok('bob', 'POST', '/conversations/group_mg/messages', text('after max'))
  await ok('olive', 'PUT', '/groups/mg/members/kim')
  await ok('olive', 'DELETE', '/groups/mg/members/kim')
  await ok('olive', 'PUT', '/groups/mg/members/kim')
  await ok('max', 'POST', '/conversations/group_mg/messages', text('max speaks'))
  await ok('max', 'POST', '/conversations/group_mg/messages/save', text('max saves'))
}

const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'olive', 'max', 'kim']

async function lists (g: TestApp): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const u of USERS) {
    const page = (await g.call(u, 'GET', '/conversations?count=100')).json() as { conversations: Array<Record<string, unknown> & { conv_type: number }> }
    // A group row's activity before 011 is only known from its tips; the rest must be equal.
    out[u] = { page: page.conversations.map(c => c.conv_type === 2 ? { ...c, conv_active_time: 0 } : c), total: (await g.call(u, 'GET', '/conversations/unread')).json() }
  }
  return out
}

t.test('when a store from before migration 011 is opened, then the conversation list is filled from its history', async t => {
  const config = testConfig(t)
  const first = await build(t, {}, { config })
  await history(first)
  const live = await lists(first)
  t.match(live, { bob: { total: { total_unread_num: 4 } }, max: { total: { total_unread_num: 1 } }, kim: { total: { total_unread_num: 1 } } }, 'the history has unread messages to fill')
  await first.app.close()

  if (config.databaseUrl === undefined) {
    const db = new Database(join(config.dataDir, 'timgate.db'))
    for (const statement of undo011) db.exec(statement)
    db.close()
  } else {
    const client = new pg.Client({ connectionString: config.databaseUrl.replace(/\?schema=.*$/, ''), options: `-c search_path=${new URL(config.databaseUrl).searchParams.get('schema')}` })
    await client.connect()
    for (const statement of undo011) await client.query(statement)
    await client.end()
  }

  const again = await build(t, {}, { config })
  t.same(await lists(again), live)
})
