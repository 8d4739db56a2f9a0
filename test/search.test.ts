import t from 'tap'
import Database from 'better-sqlite3'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { pgClientConfig } from '../db/postgres/pool.js'
import { build, text, type TestApp } from './helper.js'

type Msg = Record<string, unknown> & { message_msg_id: string, message_elem_array: Array<Record<string, unknown>> }
interface Item { msg_search_result_item_conv_id: string, msg_search_result_item_conv_type: number, msg_search_result_item_total_message_count: number, msg_search_result_item_message_array: Msg[] }
interface Result { msg_search_result_total_count: number, msg_search_result_item_array: Item[] }

const search = async (g: TestApp, user: string, param: Record<string, unknown>, headers?: Record<string, string>): Promise<Result> => {
  const res = await g.call(user, 'POST', '/messages/search', param, headers)
  if (res.statusCode !== 200) throw new Error(`search: ${res.statusCode} ${res.body}`)
  return res.json()
}
const send = async (g: TestApp, user: string, conv: string, body: unknown): Promise<Msg> => {
  const res = await g.call(user, 'POST', `/conversations/${conv}/messages`, body)
  if (res.statusCode !== 200) throw new Error(`send: ${res.statusCode} ${res.body}`)
  return res.json()
}
const textsOf = (ms: Msg[]) => ms.map(m => m.message_elem_array[0]?.text_elem_content)
/** The texts alice finds in her conversation with bob. */
const inC2c = async (g: TestApp, user: string, peer: string, param: Record<string, unknown>) =>
  textsOf((await search(g, user, { msg_search_param_conv_id: peer, msg_search_param_conv_type: 1, ...param })).msg_search_result_item_array[0]?.msg_search_result_item_message_array ?? [])

t.test('when keywords of one, two or more characters in any script are searched in a conversation, then its matches come newest first, paged', async t => {
  const g = await build(t)
  for (const s of ['大家你好呀', 'Hello World', 'hello again', 'Привет', 'no match']) await send(g, 'alice', 'c2c_bob', text(s))
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['你好'] }), ['大家你好呀'])
  t.same(await inC2c(g, 'bob', 'alice', { msg_search_param_keyword_array: ['好'] }), ['大家你好呀'], 'the peer too')
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['HELLO'] }), ['hello again', 'Hello World'])
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['привет'] }), ['Привет'])
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['lo'] }), ['hello again', 'Hello World'])

  const one = await search(g, 'alice', { msg_search_param_keyword_array: ['o'], msg_search_param_conv_id: 'bob', msg_search_param_conv_type: 1, msg_search_param_page_size: 2 })
  t.equal(one.msg_search_result_total_count, 3, 'the total counts messages')
  t.equal(one.msg_search_result_item_array.length, 1)
  const item = one.msg_search_result_item_array[0]!
  t.match(item, { msg_search_result_item_conv_id: 'bob', msg_search_result_item_conv_type: 1, msg_search_result_item_total_message_count: 3 })
  t.same(textsOf(item.msg_search_result_item_message_array), ['no match', 'hello again'])
  t.match(item.msg_search_result_item_message_array[0], { message_conv_id: 'bob', message_is_from_self: true, message_status: 2 })
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['o'], msg_search_param_page_size: 2, msg_search_param_page_index: 1 }), ['Hello World'])
  const past = await search(g, 'alice', { msg_search_param_keyword_array: ['o'], msg_search_param_conv_id: 'bob', msg_search_param_conv_type: 1, msg_search_param_page_size: 2, msg_search_param_page_index: 2 })
  t.same(past, { msg_search_result_total_count: 3, msg_search_result_item_array: [] }, 'past the last page: no item, the total stays')
})

t.test('when all conversations are searched, then items are conversations, newest match first, with the message only when it is the one match', async t => {
  const g = await build(t)
  await send(g, 'alice', 'c2c_bob', text('apple pie'))
  await send(g, 'alice', 'c2c_carol', text('apple juice'))
  await send(g, 'carol', 'c2c_alice', text('green apple'))
  await send(g, 'alice', 'c2c_dave', text('banana'))
  await g.call('alice', 'POST', '/groups', { group_id: 'team', group_member_array: ['bob'] })
  await send(g, 'bob', 'group_team', text('apple for the team'))
  const r = await search(g, 'alice', { msg_search_param_keyword_array: ['apple'] })
  t.equal(r.msg_search_result_total_count, 3)
  t.same(r.msg_search_result_item_array.map(i => [i.msg_search_result_item_conv_id, i.msg_search_result_item_conv_type, i.msg_search_result_item_total_message_count]),
    [['team', 2, 1], ['carol', 1, 2], ['bob', 1, 1]])
  t.same(textsOf(r.msg_search_result_item_array[0]!.msg_search_result_item_message_array), ['apple for the team'])
  t.same(r.msg_search_result_item_array[1]!.msg_search_result_item_message_array, [], 'two matches: no message, as the SDK does')
  const paged = await search(g, 'alice', { msg_search_param_keyword_array: ['apple'], msg_search_param_page_size: 1, msg_search_param_page_index: 2 })
  t.same(paged.msg_search_result_item_array.map(i => i.msg_search_result_item_conv_id), ['bob'])
  t.equal(paged.msg_search_result_total_count, 3)
  t.same((await search(g, 'alice', { msg_search_param_keyword_array: ['apple'], msg_search_param_page_index: 1 })).msg_search_result_item_array, [])
  const carol = await search(g, 'carol', { msg_search_param_keyword_array: ['apple'] })
  t.same(carol.msg_search_result_item_array.map(i => i.msg_search_result_item_conv_id), ['alice'], 'from the caller\'s side')
})

t.test('when keywords combine, with senders, types and a time window, then each filter holds', async t => {
  let clock = 1_800_000_000
  const g = await build(t, {}, { now: () => clock })
  await send(g, 'alice', 'c2c_bob', text('red green'))
  clock += 100
  await send(g, 'bob', 'c2c_alice', text('red blue'))
  clock += 100
  await send(g, 'alice', 'c2c_bob', { message_elem_array: [{ elem_type: 4, file_elem_file_name: 'Red.pdf', file_elem_file_size: 1, file_elem_url: 'https://example.com/f' }] })
  await send(g, 'alice', 'c2c_bob', { message_elem_array: [{ elem_type: 3, custom_elem_desc: 'a red card', custom_elem_data: 'blue' }] })
  await send(g, 'alice', 'c2c_bob', { message_elem_array: [{ elem_type: 7, location_elem_desc: 'Red Square', location_elem_longitude: 37.6, location_elem_latitude: 55.7 }] })
  const count = async (param: Record<string, unknown>) =>
    (await search(g, 'alice', { msg_search_param_conv_id: 'bob', msg_search_param_conv_type: 1, ...param })).msg_search_result_total_count
  t.equal(await count({ msg_search_param_keyword_array: ['red'] }), 5, 'text, file name, custom desc, location desc')
  t.equal(await count({ msg_search_param_keyword_array: ['blue'] }), 1, 'not custom data')
  t.equal(await count({ msg_search_param_keyword_array: ['green', 'blue'] }), 2, 'any keyword by default')
  t.equal(await count({ msg_search_param_keyword_array: ['red', 'blue'], msg_search_param_keyword_list_match_type: 1 }), 1, 'all keywords')
  t.equal(await count({ msg_search_param_keyword_array: ['red', 'square'], msg_search_param_keyword_list_match_type: 1 }), 1)
  t.equal(await count({ msg_search_param_keyword_array: ['red'], msg_search_param_send_indentifier_array: ['bob'] }), 1, 'the SDK\'s spelling')
  t.equal(await count({ msg_search_param_keyword_array: ['red'], msg_search_param_send_identifier_array: ['bob'] }), 1, 'and the right one')
  t.equal(await count({ msg_search_param_send_identifier_array: ['alice'] }), 4, 'senders alone')
  t.equal(await count({ msg_search_param_message_type_array: [4, 7] }), 2, 'types alone')
  t.equal(await count({ msg_search_param_keyword_array: ['red'], msg_search_param_message_type_array: [0] }), 2)
  t.equal(await count({ msg_search_param_keyword_array: ['red'], msg_search_param_search_time_position: 1_800_000_100, msg_search_param_search_time_period: 100 }), 2, 'both ends inclusive')
  t.equal(await count({ msg_search_param_keyword_array: ['red'], msg_search_param_search_time_position: 1_800_000_100 }), 2, 'period 0: no lower bound')
  t.equal(await count({ msg_search_param_keyword_array: ['red'], msg_search_param_search_time_period: 50 }), 3, 'position 0: now')
})

t.test('when a search runs, then only what the caller sees now is found', async t => {
  // One second for all: the saved message and the shared one share it (history order: seq 0 first).
  const g = await build(t, {}, { now: () => 1_800_000_000 })
  await send(g, 'alice', 'c2c_bob', text('secret one'))
  await send(g, 'carol', 'c2c_dave', text('secret two'))
  await g.call('alice', 'POST', '/groups', { group_id: 'g1', group_member_array: ['carol'] })
  await send(g, 'alice', 'group_g1', text('secret group'))
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages/save', text('secret saved'))
  const convs = async (user: string, headers?: Record<string, string>) =>
    (await search(g, user, { msg_search_param_keyword_array: ['secret'] }, headers)).msg_search_result_item_array.map(i => i.msg_search_result_item_conv_id).sort()
  t.same(await convs('alice'), ['bob', 'g1'])
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['secret'] }), ['secret one', 'secret saved'], 'its saved message with the shared one, in history order (same second: seq 0 first)')
  t.same(await inC2c(g, 'bob', 'alice', { msg_search_param_keyword_array: ['secret'] }), ['secret one'], 'not the peer\'s saved message')
  t.same(await convs('carol'), ['dave', 'g1'])
  t.same(await convs('eve'), [], 'a stranger finds nothing')
  t.same(await convs('administrator', { 'x-tim-on-behalf-of': 'bob' }), ['alice'], 'the admin acting for bob sees bob\'s side')

  await g.call('carol', 'DELETE', '/groups/g1/members/carol')
  t.same(await convs('carol'), ['dave'], 'a member who left no longer finds the group')
  const left = await g.call('carol', 'POST', '/messages/search', { msg_search_param_keyword_array: ['secret'], msg_search_param_conv_id: 'g1', msg_search_param_conv_type: 2 })
  t.equal(left.statusCode, 403)
  t.equal(left.json().code, 10007, 'searching it by id is 403 10007')
  const unknown = await g.call('carol', 'POST', '/messages/search', { msg_search_param_keyword_array: ['secret'], msg_search_param_conv_id: 'nope', msg_search_param_conv_type: 2 })
  t.equal(unknown.json().code, 10010)
})

t.test('when the caller deleted a message, then it does not find it; when a message is revoked, nobody does, and its text leaves the index', async t => {
  const g = await build(t)
  const a = await send(g, 'alice', 'c2c_bob', text('marmalade one'))
  await send(g, 'alice', 'c2c_bob', text('marmalade two'))
  const r = await send(g, 'alice', 'c2c_bob', text('marmalade three'))
  t.equal((await g.call('bob', 'DELETE', `/conversations/c2c_alice/messages/${a.message_msg_id}`)).statusCode, 204)
  t.same(await inC2c(g, 'bob', 'alice', { msg_search_param_keyword_array: ['marmalade'] }), ['marmalade three', 'marmalade two'])
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['marmalade'] }), ['marmalade three', 'marmalade two', 'marmalade one'], 'the sender still does')
  t.equal((await g.call('alice', 'POST', '/conversations/c2c_bob/revoke', r)).statusCode, 200)
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['marmalade'] }), ['marmalade two', 'marmalade one'])
  t.same(await inC2c(g, 'alice', 'bob', { msg_search_param_keyword_array: ['three'] }), [])
  t.equal((await search(g, 'alice', { msg_search_param_send_identifier_array: ['alice'] })).msg_search_result_item_array[0]!.msg_search_result_item_total_message_count, 2,
    'the tombstone is not found by sender either')
  t.equal((await g.call('bob', 'DELETE', '/conversations/c2c_alice/messages')).statusCode, 204)
  t.same((await search(g, 'bob', { msg_search_param_keyword_array: ['marmalade'] })).msg_search_result_total_count, 0, 'delete all: nothing')

  if (g.app.store.kind === 'postgres') {
    const client = new pg.Client(pgClientConfig(g.config.databaseUrl!))
    await client.connect()
    t.teardown(() => client.end())
    const { rows } = await client.query<{ entries: string }>('SELECT entries FROM search_blocks')
    t.notOk(rows.some(row => row.entries.includes('three')), 'the revoked text is not in the index rows')
    return
  }
  const path = join(g.config.dataDir, 'timgate.db')
  const db = new Database(path, { readonly: true })
  const rows = db.prepare('SELECT entries FROM search_blocks').all() as Array<{ entries: string }>
  db.close()
  t.notOk(rows.some(row => row.entries.includes('three')), 'the revoked text is not in the index rows')
  for (const file of ['timgate.db', 'timgate.db-wal']) {
    const bytes = existsSync(join(g.config.dataDir, file)) ? readFileSync(join(g.config.dataDir, file)) : Buffer.alloc(0)
    t.equal(bytes.indexOf('marmalade three'), -1, `nor anywhere in ${file}`)
  }
})

t.test('when imported, batch-sent and saved messages are stored, then a search finds them as soon as the write has answered', async t => {
  const g = await build(t)
  const imported = await g.call('alice', 'POST', '/conversations/c2c_bob/messages/import',
    Array.from({ length: 40 }, (_, i) => ({ ...text(`imported 旧消息 ${i}`), message_server_time: 1_700_000_000 + i })))
  t.equal(imported.statusCode, 200)
  await g.call('alice', 'POST', '/messages/batch', { msg_batch_send_param_identifier_array: ['bob', 'carol'], msg_batch_send_param_msg: text('batch 新消息') })
  t.equal((await search(g, 'bob', { msg_search_param_keyword_array: ['消息'] })).msg_search_result_item_array[0]!.msg_search_result_item_total_message_count, 41)
  t.same(textsOf((await search(g, 'carol', { msg_search_param_keyword_array: ['消息'] })).msg_search_result_item_array[0]!.msg_search_result_item_message_array), ['batch 新消息'])
  t.same(await inC2c(g, 'bob', 'alice', { msg_search_param_keyword_array: ['旧消息 39'] }), ['imported 旧消息 39'])
})

t.test('when the parameter is out of its ranges, then 400 6017 naming the key', async t => {
  const g = await build(t)
  const cases: Array<[Record<string, unknown>, string]> = [
    [{}, 'msg_search_param_keyword_array'],
    [{ msg_search_param_keyword_array: [] }, 'msg_search_param_keyword_array'],
    [{ msg_search_param_keyword_array: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'msg_search_param_keyword_array'],
    [{ msg_search_param_keyword_array: [''] }, 'msg_search_param_keyword_array'],
    [{ msg_search_param_send_indentifier_array: ['a', 'b', 'c', 'd', 'e', 'f'] }, 'msg_search_param_send_indentifier_array'],
    [{ msg_search_param_keyword_array: ['a'], msg_search_param_page_size: 0 }, 'msg_search_param_page_size'],
    [{ msg_search_param_keyword_array: ['a'], msg_search_param_page_size: 101 }, 'msg_search_param_page_size'],
    [{ msg_search_param_keyword_array: ['a'], msg_search_param_page_index: -1 }, 'msg_search_param_page_index'],
    [{ msg_search_param_keyword_array: ['a'], msg_search_param_page_size: '20' }, 'msg_search_param_page_size'],
    [{ msg_search_param_keyword_array: ['a'], msg_search_param_conv_id: 'bob' }, 'msg_search_param_conv_type'],
  ]
  for (const [body, key] of cases) {
    const res = await g.call('alice', 'POST', '/messages/search', body)
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 6017)
    t.match(res.json().desc, key)
  }
  const ok = await g.call('alice', 'POST', '/messages/search', { msg_search_param_keyword_array: ['a'], msg_search_param_conv_id: '', msg_search_param_conv_type: 0 })
  t.same(ok.json(), { msg_search_result_total_count: 0, msg_search_result_item_array: [] }, 'an empty conv id is all conversations')
  const bad = await g.call('alice', 'POST', '/messages/search', { msg_search_param_keyword_array: ['a'], msg_search_param_conv_id: 'bad id\u0001', msg_search_param_conv_type: 1 })
  t.equal(bad.json().code, 7003)
})
