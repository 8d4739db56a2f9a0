// What several scenarios send: the sender's peers, bodies and plans.
import { createReadStream } from 'node:fs'
import process from 'node:process'
import { request } from 'undici'
import { SENDER } from '../lib/context.mjs'

export { SENDER }
export const TEXT = 'hello from the timgate benchmark'
export const textMessage = (text = TEXT) => ({ message_elem_array: [{ elem_type: 0, text_elem_content: text }] })
export const SEND_BODY = JSON.stringify(textMessage())
/** `n` user ids `<prefix><i>`, zero-padded to `digits`. */
export const users = (prefix, n, digits) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(digits, '0')}`)
export const PEERS = users('peer', 1000, 4)

/** Sends one text message to each of `peers`, picked at random per request. */
export const sendPlan = (peers) => ({ method: 'POST', items: peers.map(p => ({ path: `/conversations/c2c_${p}/messages`, body: SEND_BODY })) })

/** `n` messages from the sender to import, one second apart from `t0`. */
export const importMessages = (n, t0, tag) => Array.from({ length: n }, (_, i) => ({
  message_sender: SENDER, message_server_time: t0 + i, message_elem_array: [{ elem_type: 0, text_elem_content: `${TEXT}, ${tag} #${i}` }],
}))

/**
 * Imports 1000 messages a request, each request (and each run) into a fresh conversation,
 * so that nothing dedupes.
 */
export function importPlan () {
  const body = JSON.stringify(importMessages(1000, Math.floor(Date.now() / 1000) - 200_000, 'imported'))
  let run = 0
  return () => ({ method: 'POST', mode: 'unique', items: [{ path: '/', body }], uniqueFormat: `/conversations/c2c_imp${++run}x%d/messages/import` })
}

/** One batch send of a text message to `recipients`. */
export const batchBody = (recipients, msg = textMessage()) => JSON.stringify({ msg_batch_send_param_identifier_array: recipients, msg_batch_send_param_msg: msg })
export const batchPlan = (recipients) => ({ method: 'POST', items: [{ path: '/messages/batch', body: batchBody(recipients) }] })

/** Sends bob a file element (`fields` say where its bytes are); the path of its content. */
export async function fileElementPath (ctx, fields) {
  const msg = await ctx.call(ctx.servers.gateway, 'POST', '/conversations/c2c_bob/messages', JSON.stringify({
    message_elem_array: [{ elem_type: 4, file_elem_file_name: 'download.bin', ...fields }],
  }))
  return `/conversations/c2c_bob/messages/${msg.message_msg_id}/elements/0/content`
}

/**
 * A bulk write scenario (import, batch): `rowsPerRequest` messages a request on
 * BENCH_BULK_CONNECTIONS connections against the naive server's rows written at once.
 * Target: rows/s ≥ 0.8× the naive's.
 */
export const bulkScenario = ({ name, rowsPerRequest, plan }) => ({
  name, servers: ['naive', 'gateway'], baseline: 'naive', connections: 'bulkConnections', rowsPerRequest, target: { ratio: 0.8 }, plan,
})

/** Uploads `file` of `bytes` to the gateway (POST /media, streamed); its id and seconds. */
export async function upload (ctx, file, bytes, highWaterMark) {
  const started = process.hrtime.bigint()
  const res = await request(`${ctx.servers.gateway.base}/media`, {
    method: 'POST',
    headers: { authorization: ctx.headers.authorization, 'content-type': 'application/octet-stream', 'content-length': String(bytes) },
    body: createReadStream(file, { highWaterMark }),
  })
  const answer = await res.body.json()
  if (res.statusCode !== 201) throw new Error(`upload: ${res.statusCode} ${JSON.stringify(answer)}`)
  return { id: answer.id, seconds: Number(process.hrtime.bigint() - started) / 1e9 }
}
