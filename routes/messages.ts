import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import {
  AnchorMessage, ConversationParams, DeleteParam, GetMsgListParam, GetMsgListQuery, MessageIn, MessageOut, MsgLocator, TimedMessageIn,
} from '../src/messages/schemas.js'
import { Errors } from '../src/errors.js'
import { messageJson } from '../src/messages/service.js'
import { errors, example, EXAMPLE_MSG_ID, exampleText, sendJsonArray } from './responses.js'

const tags = ['messages']
const MessageList = (description: string) => Type.Array(MessageOut, { description })
const Stored = (description: string) => ({ ...MessageOut, description })
const NoContent = Type.Null({ description: 'done' })
const MessageParams = Type.Object({
  ...ConversationParams.properties,
  msgID: Type.String({ minLength: 1, maxLength: 64, description: 'a message_msg_id', examples: [EXAMPLE_MSG_ID] }),
})
/** Import and batch send carry up to 1000 messages or 500 recipients. */
export const LARGE_BODY_LIMIT = 16 * 1024 * 1024

/** Read and delete take "Message, {} or none": no body is the empty parameter. */
const optionalBody = {
  config: { idempotent: true, optionalBody: true },
  preValidation: async (request: { body: unknown }) => {
    if (request.body === undefined) request.body = {}
  },
}

/** The TIMMsg* interfaces addressed by conversation. */
const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/conversations/:conversationID/messages', {
    config: { idempotent: true },
    schema: {
      tags,
      operationId: 'sendMessage',
      summary: 'TIMMsgSendNewMsg: send a message',
      description: 'Stores the message in the conversation\'s shared history and answers the stored Message (seq, rand, server time, msg_id, status 2). ' +
        'The sender is the caller: leave message_sender out (only the admin may name another). ' +
        'With `message_is_online_msg: true` it is delivered only to live listeners: never stored or listed (seq 0).',
      params: ConversationParams,
      body: example(MessageIn, exampleText('hello')),
      response: { 200: Stored('the stored Message'), ...errors(400, 401, 403, 404, 409, 413, 415, 502) },
    },
  }, async (request) => app.messages.send(request.identity, request.params.conversationID, request.body))

  app.post('/conversations/:conversationID/messages/query', {
    schema: {
      tags,
      operationId: 'queryMessages',
      summary: 'TIMMsgGetMsgList: a page of history (SDK parameter)',
      description: 'is_forward false (default): older than the anchor, newest first; true: newer, oldest first. The anchor is exclusive; deleted-for-me messages are skipped.',
      params: ConversationParams,
      body: example(GetMsgListParam, { msg_getmsglist_param_count: 20 }),
      response: { 200: MessageList('a page of Messages in walking order'), ...errors(400, 401, 403, 404, 413, 415) },
    },
  }, async (request) => {
    const p = request.body
    for (const key of ['msg_getmsglist_param_last_msg_seq', 'msg_getmsglist_param_message_seq_array'] as const) {
      // Dropping them silently would answer a different question than the one asked.
      if (p[key] !== undefined) throw Errors.invalidParameter(`${key} is not supported by timgate: use msg_getmsglist_param_last_msg`)
    }
    return app.messages.list(request.identity, request.params.conversationID, {
      anchor: p.msg_getmsglist_param_last_msg,
      count: p.msg_getmsglist_param_count ?? 20,
      forward: p.msg_getmsglist_param_is_forward ?? false,
      timeBegin: p.msg_getmsglist_param_time_begin,
      timePeriod: p.msg_getmsglist_param_time_period,
      types: p.msg_getmsglist_param_message_type_array,
    })
  })

  app.get('/conversations/:conversationID/messages', {
    schema: {
      tags,
      operationId: 'listMessages',
      summary: 'TIMMsgGetMsgList: a page of history (query string)',
      description: 'The same as POST …/messages/query with the parameter in the query string.',
      params: ConversationParams,
      querystring: GetMsgListQuery,
      response: { 200: MessageList('a page of Messages in walking order'), ...errors(400, 401, 403, 404) },
    },
  }, async (request) => {
    const q = request.query
    return app.messages.list(request.identity, request.params.conversationID, {
      anchor: q.last_msg_id,
      count: q.count ?? 20,
      forward: q.is_forward ?? false,
      timeBegin: q.time_begin,
      timePeriod: q.time_period,
      types: q.message_type,
    })
  })

  app.post('/conversations/:conversationID/messages/find', {
    schema: {
      tags,
      operationId: 'findMessages',
      summary: 'TIMMsgFindByMsgLocatorList: messages by locator',
      description: 'One Message per locator that matches (seq + rand + time) a message the caller may see, in locator order; locators that match nothing are left out. Revoked messages come back with status 6, messages the caller deleted with status 4.',
      params: ConversationParams,
      body: example(Type.Array(MsgLocator, { maxItems: 1000, description: 'MsgLocators (at most 1000)' }),
        [{ message_locator_seq: 1, message_locator_rand: 12345, message_locator_time: 1767225600 }]),
      response: { 200: MessageList('the Messages found, in locator order'), ...errors(400, 401, 403, 404, 413, 415) },
    },
  }, async (request) => app.messages.find(request.identity, request.params.conversationID, request.body))

  app.post('/conversations/:conversationID/read', {
    ...optionalBody,
    schema: {
      tags,
      operationId: 'reportRead',
      summary: 'TIMMsgReportReaded: move the caller\'s read point',
      description: 'To the given Message (by message_msg_id, else seq + rand + time), or to the newest message when the body is `{}` or absent. The read point never moves backwards.',
      params: ConversationParams,
      body: example(AnchorMessage, {}),
      response: { 204: NoContent, ...errors(400, 401, 403, 404, 409, 413, 415) },
    },
  }, async (request, reply) => {
    await app.messages.markRead(request.identity, request.params.conversationID, request.body)
    return reply.status(204).send(null)
  })

  app.post('/conversations/:conversationID/revoke', {
    config: { idempotent: true },
    schema: {
      tags,
      operationId: 'revokeMessage',
      summary: 'TIMMsgRevoke: revoke a message',
      description: 'The sender within TIM_REVOKE_WINDOW_S (else 20016 C2C, 10031 group); group owner and admins any time; the app admin anything. ' +
        'The content is erased; the tombstone (status 6, message_revoker_user_id) stays listed and found. Revoking a revoked message returns the tombstone.',
      params: ConversationParams,
      body: example(AnchorMessage, { message_msg_id: EXAMPLE_MSG_ID }),
      response: { 200: Stored('the revoked Message (tombstone)'), ...errors(400, 401, 403, 404, 409, 413, 415) },
    },
  }, async (request) => app.messages.revoke(request.identity, request.params.conversationID, request.body))

  app.post('/conversations/:conversationID/messages/import', {
    config: { idempotent: true, heavy: true },
    bodyLimit: LARGE_BODY_LIMIT,
    schema: {
      tags,
      operationId: 'importMessages',
      summary: 'TIMMsgImportMsgList: import history',
      description: 'Up to 1000 messages, each keeping its message_sender and time (message_server_time, else message_client_time), entering the shared history with status 5 and no unread effect. ' +
        'Only the admin may import others\' messages. Re-importing a message with the same sender, time and rand returns the stored one. All or nothing.',
      params: ConversationParams,
      body: example(Type.Array(TimedMessageIn, { minItems: 1, maxItems: 1000, description: '1-1000 Messages' }),
        [{ ...exampleText('an older message'), message_server_time: 1767225600, message_rand: 1 }]),
      response: { 200: MessageList('the stored Messages, in request order'), ...errors(400, 401, 403, 404, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const imported = await app.messages.import(request.identity, request.params.conversationID, request.body)
    return sendJsonArray(reply, imported.messages, m => messageJson(imported.view(m)))
  })

  app.post('/conversations/:conversationID/messages/save', {
    config: { idempotent: true },
    schema: {
      tags,
      operationId: 'saveMessage',
      summary: 'TIMMsgSaveMsg: save a message for the caller alone',
      description: 'Stored with status 5 and seq 0, visible only to the caller, placed in history by its time (message_server_time if given, else now).',
      params: ConversationParams,
      body: example(TimedMessageIn, exampleText('a note to self')),
      response: { 200: Stored('the saved Message'), ...errors(400, 401, 403, 404, 409, 413, 415) },
    },
  }, async (request) => app.messages.save(request.identity, request.params.conversationID, request.body))

  app.post('/conversations/:conversationID/messages/delete', {
    ...optionalBody,
    schema: {
      tags,
      operationId: 'deleteMessagesSdk',
      summary: 'TIMMsgDelete: delete for the caller (SDK parameter)',
      description: 'With msg_delete_param_msg: that message; without it (or `{}`): all of the caller\'s history in the conversation. Others still see the messages.',
      params: ConversationParams,
      body: example(DeleteParam, { msg_delete_param_msg: EXAMPLE_MSG_ID }),
      response: { 204: NoContent, ...errors(400, 401, 403, 404, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const target = request.body.msg_delete_param_msg
    const empty = target === undefined || (typeof target === 'object' && Object.keys(target).length === 0)
    await app.messages.delete(request.identity, request.params.conversationID, empty ? undefined : target)
    return reply.status(204).send(null)
  })

  app.delete('/conversations/:conversationID/messages/:msgID', {
    schema: {
      tags,
      operationId: 'deleteMessage',
      summary: 'TIMMsgDelete: delete one message for the caller',
      params: MessageParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await app.messages.delete(request.identity, request.params.conversationID, request.params.msgID)
    return reply.status(204).send(null)
  })

  app.delete('/conversations/:conversationID/messages', {
    schema: {
      tags,
      operationId: 'deleteAllMessages',
      summary: 'TIMMsgDelete: delete all of the caller\'s history in the conversation',
      params: ConversationParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await app.messages.delete(request.identity, request.params.conversationID, undefined)
    return reply.status(204).send(null)
  })
}

export default messageRoutes
