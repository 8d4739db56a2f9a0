import t from 'tap'
import { signUserSig } from '../src/auth/usersig.js'
import { testConfig, text } from './helper.js'
import { startReplica, type Replica } from './fixtures/replica.js'

type Msg = Record<string, unknown> & { message_msg_id: string, message_seq: number, message_rand: number, message_server_time: number }
interface Answer { status: number, body: unknown, headers: Headers }

t.test('when two gateway processes run on one PostgreSQL schema', {
  skip: process.env.TIMGATE_TEST_PG === undefined || process.env.TIMGATE_TEST_PG === ''
    ? 'TIMGATE_TEST_PG is unset: the replica test needs a PostgreSQL server (npm test runs it when one answers)'
    : false,
}, async t => {
  const config = testConfig(t)
  // Started together: both migrate the fresh schema at once, under the advisory lock.
  const [a, b] = await Promise.all([startReplica(t, config), startReplica(t, config)])
  const call = async (r: Replica, user: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetch(`${r.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${signUserSig(config.sdkAppId, config.secretKey, user, 3600)}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    })
    const raw = await res.text()
    return { status: res.status, body: raw === '' ? undefined : JSON.parse(raw), headers: res.headers }
  }
  const list = async (r: Replica, user: string, conv: string): Promise<Msg[]> =>
    (await call(r, user, 'POST', `/conversations/${conv}/messages/query`, { msg_getmsglist_param_count: 100 })).body as Msg[]
  const ascending = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from)
  const seqsOf = (ms: Msg[]) => ms.map(m => m.message_seq).sort((x, y) => x - y)

  await t.test('then both say they run on PostgreSQL', async t => {
    for (const r of [a, b]) t.match((await fetch(`${r.base}/health`).then(res => res.json())), { status: 'ok', store: 'postgres' })
  })

  const n = 80
  await t.test('when both send concurrently to one C2C conversation, then seqs are 1..N with no gap or repeat', async t => {
    const results = await Promise.all(ascending(n, 0).map(i => i % 2 === 0
      ? call(i % 4 === 0 ? a : b, 'alice', 'POST', '/conversations/c2c_bob/messages', text(`c${i}`))
      : call(i % 4 === 1 ? b : a, 'bob', 'POST', '/conversations/c2c_alice/messages', text(`c${i}`))))
    t.same(results.map(r => r.status), results.map(() => 200), 'every send answered 200')
    const sent = results.map(r => r.body as Msg & { message_unique_id: number })
    t.same(seqsOf(sent), ascending(n))
    t.equal(new Set(sent.map(m => m.message_unique_id)).size, n, 'unique ids are unique')
    t.same(seqsOf(await list(b, 'bob', 'c2c_alice')), ascending(n), 'the other replica lists each once')
  })

  await t.test('when both send and change membership concurrently in one group, then its seqs are 1..N too', async t => {
    const created = await call(a, 'alice', 'POST', '/groups', { group_id: 'replicas', group_member_array: ['bob', 'carol'] })
    t.equal(created.status, 201)
    const senders = ['alice', 'bob', 'carol']
    const writes = await Promise.all([
      ...ascending(60, 0).map(i => call(i % 2 === 0 ? a : b, senders[i % 3]!, 'POST', '/conversations/group_replicas/messages', text(`g${i}`))),
      call(b, 'alice', 'PUT', '/groups/replicas/members/dave'),
      call(a, 'alice', 'PUT', '/groups/replicas/members/erin'),
    ])
    t.same(writes.map(r => r.status), writes.map(() => 200), 'every write answered 200')
    const history = await list(a, 'dave', 'group_replicas')
    // The invite tips of the creation and of dave and erin, and the 60 messages.
    t.same(seqsOf(history), ascending(63))
    const group = (await call(b, 'carol', 'GET', '/groups/replicas')).body as { group_member_array: string[] }
    t.same(group.group_member_array.slice(0, 3), ['alice', 'bob', 'carol'], 'the founders first, in join order')
    t.same([...group.group_member_array.slice(3)].sort(), ['dave', 'erin'])
  })

  await t.test('when one Idempotency-Key reaches both replicas, then the first response is returned by both and written once', async t => {
    const headers = { 'idempotency-key': 'replicas-1' }
    const body = text('once', { message_rand: 7 })
    const [one, two] = await Promise.all([
      call(a, 'alice', 'POST', '/conversations/c2c_bob/messages', body, headers),
      call(b, 'alice', 'POST', '/conversations/c2c_bob/messages', body, headers),
    ])
    t.equal(one.status, 200)
    t.equal(two.status, 200)
    t.same(two.body, one.body, 'the same message')
    t.equal([one, two].filter(r => r.headers.get('idempotent-replayed') === 'true').length, 1, 'one of them is the replay')
    const later = await call(b, 'alice', 'POST', '/conversations/c2c_bob/messages', body, headers)
    t.same(later.body, one.body, 'and again later')
    t.equal((await call(a, 'alice', 'POST', '/conversations/c2c_bob/messages', text('other'), headers)).status, 409, 'another body: 409')
    t.same(seqsOf(await list(a, 'alice', 'c2c_bob')), ascending(n + 1), 'one message written')
  })

  await t.test('when one replica revokes, reads and deletes, then the other sees it', async t => {
    const mine = (await list(a, 'alice', 'c2c_bob')).filter(m => m.message_is_from_self === true)
    const target = mine[0]!
    const revoked = await call(a, 'alice', 'POST', '/conversations/c2c_bob/revoke', target)
    t.equal(revoked.status, 200)
    const seen = (await list(b, 'bob', 'c2c_alice')).find(m => m.message_msg_id === target.message_msg_id)
    t.match(seen, { message_status: 6, message_elem_array: [], message_revoker_user_id: 'alice' }, 'the tombstone through the other replica')
    const found = (await call(b, 'bob', 'POST', '/conversations/c2c_alice/messages/find', [{
      message_locator_seq: target.message_seq, message_locator_rand: target.message_rand, message_locator_time: target.message_server_time,
    }])).body as Msg[]
    t.equal(found[0]?.message_status, 6, 'found by locator as revoked')

    t.equal((await call(b, 'bob', 'POST', '/conversations/c2c_alice/read')).status, 204)
    const peerRead = await list(a, 'alice', 'c2c_bob')
    t.ok(peerRead.filter(m => m.message_is_from_self === true).every(m => m.message_is_peer_read === true), 'bob\'s read point, seen by alice on the other replica')
    t.ok((await list(a, 'bob', 'c2c_alice')).every(m => m.message_is_read === true), 'and by bob himself')

    const gone = mine[1]!
    t.equal((await call(a, 'bob', 'DELETE', `/conversations/c2c_alice/messages/${gone.message_msg_id}`)).status, 204)
    t.notOk((await list(b, 'bob', 'c2c_alice')).some(m => m.message_msg_id === gone.message_msg_id), 'deleted for bob on the other replica')
    t.ok((await list(b, 'alice', 'c2c_bob')).some(m => m.message_msg_id === gone.message_msg_id), 'alice still has it')
    t.equal((await call(b, 'bob', 'DELETE', '/conversations/c2c_alice/messages')).status, 204)
    t.same(await list(a, 'bob', 'c2c_alice'), [], 'bob cleared the conversation: empty on the other replica')
    t.equal((await list(a, 'alice', 'c2c_bob')).length, n + 1, 'not for alice')
  })

  t.equal(a.stderr() + b.stderr(), '', 'no replica wrote to stderr')
})
