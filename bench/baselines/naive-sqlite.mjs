// naive (SQLite): Fastify 5 with pino logging (Fastify's own request logging) at
// BENCH_LOG_LEVEL to stdout, which the driver sends where the gateway's log goes;
// better-sqlite3 in WAL mode with synchronous=NORMAL on its own file (BENCH_NAIVE_DB); one
// table shaped like a message (conv, seq, sender, time, client_time, rand, status, content)
// with one index on (conv, time, seq). Each interface done the obvious way, with the same
// paths and bodies as the gateway:
//   send     ONE INSERT per request (per-conversation seq counted in memory)
//   history  one SELECT … ORDER BY time DESC, seq DESC LIMIT count, by the index
//   find     one point SELECT per locator
//   import   the body's rows in one transaction ("raw batched inserts")
//   batch    one row per recipient in one transaction
//   read     one upsert of the caller's read point
//   revoke   one UPDATE … RETURNING
// It does not authenticate and takes the sender to be BENCH_SENDER.
import process from 'node:process'
import { batchBody, batchResult, fastifyApp, historyQuery, importBody, listen, MESSAGE_SCHEMA, now, params, rand32 } from './shared.mjs'

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conv TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    time INTEGER NOT NULL,
    client_time INTEGER NOT NULL,
    rand INTEGER NOT NULL,
    status INTEGER NOT NULL,
    content TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS messages_history ON messages (conv, time, seq);
  CREATE TABLE IF NOT EXISTS read_points (conv TEXT NOT NULL, user TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (conv, user)) WITHOUT ROWID;`

const findBody = {
  type: 'array',
  maxItems: 1000,
  items: {
    type: 'object',
    required: ['message_locator_seq', 'message_locator_rand', 'message_locator_time'],
    properties: { message_locator_seq: { type: 'integer' }, message_locator_rand: { type: 'integer' }, message_locator_time: { type: 'integer' } },
  },
}

export async function start () {
  const env = process.env
  const SENDER = env.BENCH_SENDER ?? 'alice'
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(env.BENCH_NAIVE_DB)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(SCHEMA)

  const columns = 'id, conv, seq, sender, time, client_time, rand, status, content'
  const insert = db.prepare('INSERT INTO messages (conv, seq, sender, time, client_time, rand, status, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id')
  const maxSeq = db.prepare('SELECT coalesce(max(seq), 0) AS s FROM messages WHERE conv = ?').pluck()
  const page = db.prepare(`SELECT ${columns} FROM messages WHERE conv = ? ORDER BY time DESC, seq DESC LIMIT ?`)
  const byLocator = db.prepare(`SELECT ${columns} FROM messages WHERE conv = ? AND time = ? AND seq = ? AND rand = ?`)
  const markRead = db.prepare(`INSERT INTO read_points (conv, user, time, seq)
    SELECT @conv, @user, time, seq FROM messages WHERE conv = @conv ORDER BY time DESC, seq DESC LIMIT 1
    ON CONFLICT (conv, user) DO UPDATE SET time = excluded.time, seq = excluded.seq WHERE excluded.seq > read_points.seq`)
  const revoke = db.prepare(`UPDATE messages SET status = 6, content = '{"message_elem_array":[]}' WHERE id = ? AND conv = ? RETURNING ${columns}`)

  const convOf = (conversationID) => {
    const target = conversationID.slice(conversationID.indexOf('_') + 1)
    return conversationID.startsWith('group_') ? `group:${target}` : SENDER < target ? `c2c:${SENDER}\n${target}` : `c2c:${target}\n${SENDER}`
  }
  // The per-conversation seq, counted in memory (one process owns the file).
  const seqs = new Map()
  const nextSeq = (conv) => {
    const s = (seqs.get(conv) ?? maxSeq.get(conv)) + 1
    seqs.set(conv, s)
    return s
  }
  const store = (conv, msg, status, time = now()) => {
    const row = {
      conv,
      seq: nextSeq(conv),
      sender: msg.message_sender ?? SENDER,
      time,
      client_time: msg.message_client_time ?? time,
      rand: msg.message_rand ?? rand32(),
      status,
      content: JSON.stringify({ message_elem_array: msg.message_elem_array }),
    }
    row.id = insert.get(row.conv, row.seq, row.sender, row.time, row.client_time, row.rand, row.status, row.content).id
    return row
  }
  const view = (row, conversationID, content = JSON.parse(row.content)) => ({
    ...content,
    message_conv_id: conversationID.slice(conversationID.indexOf('_') + 1),
    message_conv_type: row.conv.startsWith('group:') ? 2 : 1,
    message_sender: row.sender,
    message_client_time: row.client_time,
    message_server_time: row.time,
    message_status: row.status,
    message_unique_id: row.id,
    message_msg_id: String(row.id),
    message_rand: row.rand,
    message_seq: row.seq,
  })
  const importAll = db.transaction((conv, msgs) => msgs.map(m => store(conv, m, 5, m.message_server_time ?? m.message_client_time ?? now())))
  const batchAll = db.transaction((recipients, msg) => recipients.map(to => store(convOf(`c2c_${to}`), msg, 2)))

  const app = await fastifyApp()
  app.post('/conversations/:conversationID/messages', { schema: { params, body: MESSAGE_SCHEMA } }, async (request) => {
    const row = store(convOf(request.params.conversationID), request.body, 2)
    return view(row, request.params.conversationID, request.body)
  })
  app.get('/conversations/:conversationID/messages', { schema: { params, querystring: historyQuery } },
    async (request) => page.all(convOf(request.params.conversationID), request.query.count).map(r => view(r, request.params.conversationID)))
  app.post('/conversations/:conversationID/messages/find', { schema: { params, body: findBody } }, async (request) => {
    const conv = convOf(request.params.conversationID)
    const out = []
    for (const l of request.body) {
      const row = byLocator.get(conv, l.message_locator_time, l.message_locator_seq, l.message_locator_rand)
      if (row !== undefined) out.push(view(row, request.params.conversationID))
    }
    return out
  })
  app.post('/conversations/:conversationID/messages/import', { schema: { params, body: importBody } },
    async (request) => importAll(convOf(request.params.conversationID), request.body).map((row, i) => view(row, request.params.conversationID, request.body[i])))
  app.post('/messages/batch', { schema: { body: batchBody } }, async (request) => {
    const { msg_batch_send_param_identifier_array: to, msg_batch_send_param_msg: msg } = request.body
    return batchAll(to, msg).map((row, i) => batchResult(to[i], view(row, `c2c_${to[i]}`, msg)))
  })
  app.post('/conversations/:conversationID/read', { schema: { params } }, async (request, reply) => {
    markRead.run({ conv: convOf(request.params.conversationID), user: SENDER })
    return reply.code(204).send()
  })
  app.post('/conversations/:conversationID/revoke', {
    schema: { params, body: { type: 'object', required: ['message_msg_id'], properties: { message_msg_id: { type: 'string' } } } },
  }, async (request, reply) => {
    const row = revoke.get(Number(request.body.message_msg_id), convOf(request.params.conversationID))
    if (row === undefined) return reply.code(404).send({ code: 6021, desc: 'no such message' })
    return { ...view(row, request.params.conversationID), message_revoker_user_id: SENDER }
  })
  await listen(app, async () => db.close())
}
