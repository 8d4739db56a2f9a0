// naive (PostgreSQL): Fastify 5 with pino logging at BENCH_LOG_LEVEL to stdout (which the
// driver sends where the gateway's log goes), a pg.Pool of BENCH_POOL connections (the
// gateway's TIM_PG_POOL_SIZE) on BENCH_PG_URL with search_path BENCH_SCHEMA, where it makes
// one table shaped like a message with the one index its history page needs:
//   send     ONE `INSERT … RETURNING id` per request
//   history  one `SELECT … ORDER BY server_time DESC, id DESC LIMIT count`, by the index
//   import   the body's rows in ONE multi-row INSERT (unnest of arrays)
//   batch    one row per recipient in ONE multi-row INSERT
// It does not authenticate and takes the sender to be BENCH_SENDER. Diagnostic:
// BENCH_BASELINE_EXTRA_READS=n makes a send also do n point SELECTs by primary key, one after
// another, as the gateway's send reads two read points after its INSERT: what each extra
// round trip costs (a ratio against such a baseline is not the target).
import process from 'node:process'
import { batchBody, batchResult, fastifyApp, historyQuery, importBody, listen, MESSAGE_SCHEMA, now, params, rand32 } from './shared.mjs'

const TABLES = (schema) => `
  CREATE SCHEMA IF NOT EXISTS ${schema};
  CREATE TABLE IF NOT EXISTS ${schema}.bench_messages (
    id BIGSERIAL PRIMARY KEY,
    conv_key TEXT NOT NULL,
    sender TEXT NOT NULL,
    server_time BIGINT NOT NULL,
    client_time BIGINT NOT NULL,
    rand BIGINT NOT NULL,
    content TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS bench_messages_history ON ${schema}.bench_messages (conv_key, server_time, id);
  CREATE TABLE IF NOT EXISTS ${schema}.bench_points (conv_key TEXT NOT NULL, user_id TEXT NOT NULL, pos BIGINT NOT NULL,
    PRIMARY KEY (conv_key, user_id));`

/**
 * Seeds `rows` messages into the baseline's history conversation `conv` with one statement
 * (through any pool of the same database), one second apart from `t0`; then ANALYZE.
 */
export async function seedNaivePgHistory (db, schema, { conv, sender, t0, text, rows }) {
  await db.query(`INSERT INTO ${schema}.bench_messages (conv_key, sender, server_time, client_time, rand, content)
    SELECT $1, $2, $3::bigint + i, $3::bigint + i, (i * 2654435761) % 4294967296,
      json_build_object('message_elem_array', json_build_array(json_build_object('elem_type', 0, 'text_elem_content', $4 || ' #' || i)))::text
    FROM generate_series(0, $5::integer - 1) AS i`, [conv, sender, t0, text, rows])
  await db.query(`ANALYZE ${schema}.bench_messages`)
}

const insertRows = {
  name: 'bench_insert_rows',
  text: `INSERT INTO bench_messages (conv_key, sender, server_time, client_time, rand, content)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[]) RETURNING id`,
}
const insertOne = {
  name: 'bench_insert',
  text: 'INSERT INTO bench_messages (conv_key, sender, server_time, client_time, rand, content) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
}
const point = { name: 'bench_point', text: 'SELECT pos FROM bench_points WHERE conv_key = $1 AND user_id = $2' }
const page = {
  name: 'bench_page',
  text: 'SELECT id, sender, server_time, client_time, rand, content FROM bench_messages WHERE conv_key = $1 ORDER BY server_time DESC, id DESC LIMIT $2',
}

export async function start () {
  const env = process.env
  const SENDER = env.BENCH_SENDER ?? 'alice'
  const schema = env.BENCH_SCHEMA
  const extraReads = Number(env.BENCH_BASELINE_EXTRA_READS ?? 0)
  const { default: pg } = await import('pg')
  const pool = new pg.Pool({ connectionString: env.BENCH_PG_URL, max: Number(env.BENCH_POOL), options: `-c search_path=${schema}` })
  pool.on('error', () => {})
  await pool.query(TABLES(schema))

  const peerOf = (conversationID) => conversationID.slice(4)
  const convKey = (peer) => `c2c:${SENDER}\n${peer}`
  /** Messages as rows: one multi-row INSERT; their ids in order. */
  const insertAll = async (rows) => {
    const col = (k) => rows.map(r => r[k])
    const { rows: ids } = await pool.query({ ...insertRows, values: ['conv', 'sender', 'time', 'clientTime', 'rand', 'content'].map(col) })
    return ids.map(r => Number(r.id))
  }
  const rowOf = (conv, msg, time = now()) => ({
    conv, sender: msg.message_sender ?? SENDER, time, clientTime: msg.message_client_time ?? time, rand: msg.message_rand ?? rand32(),
    content: JSON.stringify({ message_elem_array: msg.message_elem_array }),
  })
  const view = (row, id, content) => ({
    ...content, message_conv_id: row.conv.slice(row.conv.indexOf('\n') + 1), message_sender: row.sender,
    message_server_time: row.time, message_client_time: row.clientTime, message_rand: row.rand, message_unique_id: id,
  })

  const app = await fastifyApp()
  app.post('/conversations/:conversationID/messages', { schema: { params, body: MESSAGE_SCHEMA } }, async (request) => {
    const peer = peerOf(request.params.conversationID)
    const row = rowOf(convKey(peer), request.body)
    const { rows: [r] } = await pool.query({ ...insertOne, values: [row.conv, row.sender, row.time, row.clientTime, row.rand, JSON.stringify(request.body)] })
    for (let i = 0; i < extraReads; i++) await pool.query({ ...point, values: [row.conv, i === 0 ? SENDER : peer] })
    return view(row, Number(r.id), request.body)
  })
  app.get('/conversations/:conversationID/messages', { schema: { params, querystring: historyQuery } }, async (request) => {
    const { rows } = await pool.query({ ...page, values: [convKey(peerOf(request.params.conversationID)), request.query.count] })
    return rows.map(r => ({
      ...JSON.parse(r.content),
      message_conv_id: peerOf(request.params.conversationID),
      message_sender: r.sender,
      message_server_time: Number(r.server_time),
      message_client_time: Number(r.client_time),
      message_rand: Number(r.rand),
      message_unique_id: Number(r.id),
    }))
  })
  app.post('/conversations/:conversationID/messages/import', { schema: { params, body: importBody } }, async (request) => {
    const conv = convKey(peerOf(request.params.conversationID))
    const rows = request.body.map(m => rowOf(conv, m, m.message_server_time ?? m.message_client_time ?? now()))
    const ids = await insertAll(rows)
    return rows.map((row, i) => view(row, ids[i], request.body[i]))
  })
  app.post('/messages/batch', { schema: { body: batchBody } }, async (request) => {
    const { msg_batch_send_param_identifier_array: to, msg_batch_send_param_msg: msg } = request.body
    const rows = to.map(peer => rowOf(convKey(peer), msg))
    const ids = await insertAll(rows)
    return rows.map((row, i) => batchResult(to[i], view(row, ids[i], msg)))
  })
  await listen(app, () => pool.end())
}
