// The baseline servers of `npm run bench` (bench/run.mjs), one per child process, the mode
// given as the first argument. Each listens on 127.0.0.1, port 0, and sends its port to the
// parent over IPC. Never part of `npm test`.
//
//   bare    Fastify 5, logger off: POST /conversations/:conversationID/messages with a JSON
//           body schema, answering a small JSON. The ceiling of a Fastify route here.
//   naive   Fastify 5 with pino logging (Fastify's own request logging) at BENCH_LOG_LEVEL
//           to stdout, which the parent sends where the gateway's log goes; better-sqlite3 in
//           WAL mode with synchronous=NORMAL on its own file (BENCH_NAIVE_DB); one table
//           shaped like a message (conv, seq, sender, time, client_time, rand, status,
//           content) with one index on (conv, time, seq). Each interface done the obvious
//           way, with the same paths and bodies as the gateway:
//             send     ONE INSERT per request (per-conversation seq counted in memory)
//             history  one SELECT … ORDER BY time DESC, seq DESC LIMIT count, by the index
//             find     one point SELECT per locator
//             import   the body's rows in one transaction ("raw batched inserts")
//             batch    one row per recipient in one transaction
//             read     one upsert of the caller's read point
//             revoke   one UPDATE … RETURNING
//           It does not authenticate and takes the sender to be BENCH_SENDER.
//   origin  node:http serving BENCH_DOWNLOAD_FILE (Content-Length set) on every path.
//   proxy   the barest pass-through proxy: node:http, undici.request() to the origin
//           (BENCH_ORIGIN), the body piped through.
import { createReadStream, statSync } from 'node:fs'
import { createServer } from 'node:http'
import process from 'node:process'
import { MESSAGE_SCHEMA as message } from './lib.mjs'

const env = process.env
const mode = process.argv[2]
const SENDER = env.BENCH_SENDER ?? 'alice'

/** Sends the listening port to the parent, and exits on SIGTERM after `close`. */
function ready (port, close) {
  process.on('SIGTERM', async () => {
    try {
      await close()
    } finally {
      process.exit(0)
    }
  })
  process.send(port)
}

const params = { type: 'object', properties: { conversationID: { type: 'string', minLength: 5, maxLength: 80 } }, required: ['conversationID'] }

async function bare () {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false })
  app.post('/conversations/:conversationID/messages', { schema: { params, body: message } },
    async (request) => ({ ok: true, message_conv_id: request.params.conversationID.slice(4), message_seq: 1 }))
  app.get('/health', async () => ({ ok: true }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  ready(app.server.address().port, () => app.close())
}

async function naive () {
  const { default: Fastify } = await import('fastify')
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(env.BENCH_NAIVE_DB)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(`
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
      PRIMARY KEY (conv, user)) WITHOUT ROWID;`)

  const insert = db.prepare('INSERT INTO messages (conv, seq, sender, time, client_time, rand, status, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id')
  const maxSeq = db.prepare('SELECT coalesce(max(seq), 0) AS s FROM messages WHERE conv = ?').pluck()
  const page = db.prepare('SELECT id, conv, seq, sender, time, client_time, rand, status, content FROM messages WHERE conv = ? ORDER BY time DESC, seq DESC LIMIT ?')
  const byLocator = db.prepare('SELECT id, conv, seq, sender, time, client_time, rand, status, content FROM messages WHERE conv = ? AND time = ? AND seq = ? AND rand = ?')
  const markRead = db.prepare(`INSERT INTO read_points (conv, user, time, seq)
    SELECT @conv, @user, time, seq FROM messages WHERE conv = @conv ORDER BY time DESC, seq DESC LIMIT 1
    ON CONFLICT (conv, user) DO UPDATE SET time = excluded.time, seq = excluded.seq WHERE excluded.seq > read_points.seq`)
  const revoke = db.prepare(`UPDATE messages SET status = 6, content = '{"message_elem_array":[]}' WHERE id = ? AND conv = ?
    RETURNING id, conv, seq, sender, time, client_time, rand, status, content`)

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
  const now = () => Math.floor(Date.now() / 1000)
  const rand32 = () => Math.floor(Math.random() * 2 ** 32)
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

  const app = Fastify({ logger: { level: env.BENCH_LOG_LEVEL ?? 'info' }, bodyLimit: 16 * 1024 * 1024 })
  app.post('/conversations/:conversationID/messages', { schema: { params, body: message } }, async (request) => {
    const row = store(convOf(request.params.conversationID), request.body, 2)
    return view(row, request.params.conversationID, request.body)
  })
  app.get('/conversations/:conversationID/messages', {
    schema: { params, querystring: { type: 'object', properties: { count: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } } },
  }, async (request) => page.all(convOf(request.params.conversationID), request.query.count).map(r => view(r, request.params.conversationID)))
  app.post('/conversations/:conversationID/messages/find', {
    schema: {
      params,
      body: {
        type: 'array',
        maxItems: 1000,
        items: {
          type: 'object',
          required: ['message_locator_seq', 'message_locator_rand', 'message_locator_time'],
          properties: { message_locator_seq: { type: 'integer' }, message_locator_rand: { type: 'integer' }, message_locator_time: { type: 'integer' } },
        },
      },
    },
  }, async (request) => {
    const conv = convOf(request.params.conversationID)
    const out = []
    for (const l of request.body) {
      const row = byLocator.get(conv, l.message_locator_time, l.message_locator_seq, l.message_locator_rand)
      if (row !== undefined) out.push(view(row, request.params.conversationID))
    }
    return out
  })
  app.post('/conversations/:conversationID/messages/import', {
    schema: { params, body: { type: 'array', minItems: 1, maxItems: 1000, items: message } },
  }, async (request) => importAll(convOf(request.params.conversationID), request.body)
    .map((row, i) => view(row, request.params.conversationID, request.body[i])))
  app.post('/messages/batch', {
    schema: {
      body: {
        type: 'object',
        required: ['msg_batch_send_param_identifier_array', 'msg_batch_send_param_msg'],
        properties: { msg_batch_send_param_identifier_array: { type: 'array', maxItems: 500, items: { type: 'string' } }, msg_batch_send_param_msg: message },
      },
    },
  }, async (request) => {
    const { msg_batch_send_param_identifier_array: to, msg_batch_send_param_msg: msg } = request.body
    return batchAll(to, msg).map((row, i) => ({
      msg_batch_send_result_identifier: to[i],
      msg_batch_send_result_code: 0,
      msg_batch_send_result_desc: '',
      msg_batch_send_result_msg: view(row, `c2c_${to[i]}`, msg),
    }))
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
  app.get('/health', async () => ({ ok: true }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  ready(app.server.address().port, async () => {
    await app.close()
    db.close()
  })
}

async function origin () {
  const file = env.BENCH_DOWNLOAD_FILE
  const size = statSync(file).size
  const server = createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok')
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, etag: '"bench"' })
    createReadStream(file).pipe(res)
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => ready(server.address().port, () => new Promise(resolve => server.close(resolve))))
}

async function proxy () {
  const { request } = await import('undici')
  const upstream = env.BENCH_ORIGIN
  const server = createServer(async (req, res) => {
    if (req.url === '/health') {
      res.end('ok')
      return
    }
    try {
      const up = await request(`${upstream}${req.url}`)
      res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'], 'content-length': up.headers['content-length'] })
      up.body.pipe(res)
    } catch {
      res.writeHead(502)
      res.end()
    }
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => ready(server.address().port, () => new Promise(resolve => server.close(resolve))))
}

const modes = { bare, naive, origin, proxy }
if (modes[mode] === undefined) {
  process.stderr.write(`usage: node bench/baseline.mjs ${Object.keys(modes).join('|')}\n`)
  process.exit(2)
}
await modes[mode]()
