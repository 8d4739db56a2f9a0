// What the baseline servers share: the route schemas they check, how a baseline tells the
// driver its port, and how it stops.
import process from 'node:process'

/** The body schema of a Message, as much as a naive baseline checks. */
export const MESSAGE_SCHEMA = {
  type: 'object',
  required: ['message_elem_array'],
  properties: {
    message_elem_array: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['elem_type'],
        properties: { elem_type: { type: 'integer' }, text_elem_content: { type: 'string' } },
      },
    },
    message_sender: { type: 'string' },
    message_client_time: { type: 'integer' },
    message_server_time: { type: 'integer' },
    message_rand: { type: 'integer' },
  },
}

export const params = { type: 'object', properties: { conversationID: { type: 'string', minLength: 5, maxLength: 80 } }, required: ['conversationID'] }
export const historyQuery = { type: 'object', properties: { count: { type: 'integer', minimum: 1, maximum: 100, default: 20 } } }
export const importBody = { type: 'array', minItems: 1, maxItems: 1000, items: MESSAGE_SCHEMA }
export const batchBody = {
  type: 'object',
  required: ['msg_batch_send_param_identifier_array', 'msg_batch_send_param_msg'],
  properties: { msg_batch_send_param_identifier_array: { type: 'array', maxItems: 500, items: { type: 'string' } }, msg_batch_send_param_msg: MESSAGE_SCHEMA },
}

/** The answer of a batch send for recipient `to`. */
export const batchResult = (to, msg) => ({ msg_batch_send_result_identifier: to, msg_batch_send_result_code: 0, msg_batch_send_result_desc: '', msg_batch_send_result_msg: msg })

export const now = () => Math.floor(Date.now() / 1000)
export const rand32 = () => Math.floor(Math.random() * 2 ** 32)

/** Sends the listening port to the driver, and exits on SIGTERM after `close`. */
export function ready (port, close) {
  process.on('SIGTERM', async () => {
    try {
      await close()
    } finally {
      process.exit(0)
    }
  })
  process.send(port)
}

/** A Fastify app with /health, logging at BENCH_LOG_LEVEL to stdout (or not at all). */
export async function fastifyApp ({ logger = true } = {}) {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: logger && { level: process.env.BENCH_LOG_LEVEL ?? 'info' }, bodyLimit: 16 * 1024 * 1024 })
  app.get('/health', async () => ({ ok: true }))
  return app
}

/** Listens on 127.0.0.1, port 0; tells the driver; `close` runs after the app's on SIGTERM. */
export async function listen (app, close = async () => {}) {
  await app.listen({ host: '127.0.0.1', port: 0 })
  ready(app.server.address().port, async () => {
    await app.close()
    await close()
  })
}
