// bare: Fastify 5, logger off, POST /conversations/:conversationID/messages with a JSON body
// schema answering a small JSON. The ceiling of a Fastify route on this machine.
import { fastifyApp, listen, MESSAGE_SCHEMA, params } from './shared.mjs'

export async function start () {
  const app = await fastifyApp({ logger: false })
  app.post('/conversations/:conversationID/messages', { schema: { params, body: MESSAGE_SCHEMA } },
    async (request) => ({ ok: true, message_conv_id: request.params.conversationID.slice(4), message_seq: 1 }))
  await listen(app)
}
