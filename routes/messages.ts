import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import {
  ConversationParams, GetMsgListParam, GetMsgListQuery, MessageIn, MessageOut, MsgLocator,
} from '../src/messages/schemas.js'
import { errors } from './responses.js'

const tags = ['messages']
const MessageList = Type.Array(MessageOut)

/** TIMMsgSendNewMsg, TIMMsgGetMsgList and TIMMsgFindByMsgLocatorList. */
const messageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/conversations/:conversationID/messages', {
    schema: {
      tags,
      operationId: 'sendMessage',
      summary: 'TIMMsgSendNewMsg: send a message',
      description: 'Stores the message in the conversation\'s shared history and answers the stored Message (seq, rand, server time, msg_id, status 2).',
      params: ConversationParams,
      body: MessageIn,
      response: { 200: MessageOut, ...errors(400, 401, 403, 404, 413, 415) },
    },
  }, async (request) => app.messages.send(request.identity, request.params.conversationID, request.body))

  app.post('/conversations/:conversationID/messages/query', {
    schema: {
      tags,
      operationId: 'queryMessages',
      summary: 'TIMMsgGetMsgList: a page of history (SDK parameter)',
      description: 'is_forward false (default): older than the anchor, newest first; true: newer, oldest first. The anchor is exclusive; deleted-for-me messages are skipped.',
      params: ConversationParams,
      body: GetMsgListParam,
      response: { 200: MessageList, ...errors(400, 401, 403, 404, 413, 415) },
    },
  }, async (request) => {
    const p = request.body
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
      response: { 200: MessageList, ...errors(400, 401, 403, 404) },
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
      description: 'One Message per locator that matches (seq + rand + time) a message the caller may see, in locator order; locators that match nothing are left out.',
      params: ConversationParams,
      body: Type.Array(MsgLocator, { maxItems: 1000, description: 'MsgLocators (at most 1000)' }),
      response: { 200: MessageList, ...errors(400, 401, 403, 404, 413, 415) },
    },
  }, async (request) => app.messages.find(request.identity, request.params.conversationID, request.body))
}

export default messageRoutes
