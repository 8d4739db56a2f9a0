import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { BatchResult, BatchSendParam } from '../src/messages/schemas.js'
import { LARGE_BODY_LIMIT } from './messages.js'
import { errors, example, exampleText, sendJsonArray } from './responses.js'

/** TIMMsgBatchSend: one message to many C2C peers. */
const batchRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/messages/batch', {
    config: { idempotent: true, heavy: true },
    bodyLimit: LARGE_BODY_LIMIT,
    schema: {
      tags: ['messages'],
      operationId: 'batchSend',
      summary: 'TIMMsgBatchSend: send one message to up to 500 users',
      description: 'C2C only. Duplicates collapse; each recipient gets its own result (code 0 with the message, or its error code and desc); one bad recipient does not fail the others. ' +
        'A message_sender other than the caller refuses the whole request (403) unless the caller is the admin.',
      body: example(BatchSendParam, { msg_batch_send_param_identifier_array: ['user2', 'user3'], msg_batch_send_param_msg: exampleText('hello, both') }),
      response: { 200: Type.Array(BatchResult, { description: 'one result per distinct recipient, in request order' }), ...errors(400, 401, 403, 409, 413, 415, 502) },
    },
  }, async (request, reply) => sendJsonArray(reply,
    await app.messages.batchSend(request.identity, request.body.msg_batch_send_param_identifier_array, request.body.msg_batch_send_param_msg)))
}

export default batchRoutes
