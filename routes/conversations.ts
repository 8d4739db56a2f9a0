import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { ConversationParams } from '../src/messages/schemas.js'
import { ConvInfo, ConversationListQuery, ConversationPage, TotalUnread } from '../src/conversations/schemas.js'
import { errors, example } from './responses.js'

const tags = ['conversations']
const NoContent = Type.Null({ description: 'done' })
/** POST /conversations/read takes no parameter: `{}` or no body. */
const Empty = Type.Object({}, { additionalProperties: false, description: 'no parameter: `{}`, or no body' })

/** The conversation list (CONTRACT §9): TIMConvGetConvList and its neighbours. */
const conversationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/conversations', {
    schema: {
      tags,
      operationId: 'listConversations',
      summary: 'TIMConvGetConvList: the caller\'s conversations, a page at a time',
      description: 'Pinned first (the most recently active first among them), then by conv_active_time, newest first. ' +
        'Walking with next_cursor visits each conversation once, also while messages arrive: one that moves up during the walk may be missed by it, never repeated.',
      querystring: ConversationListQuery,
      response: { 200: ConversationPage, ...errors(400, 401) },
    },
  }, async (request) => app.conversations.list(request.identity, request.query.count ?? 20, request.query.cursor))

  app.get('/conversations/unread', {
    schema: {
      tags,
      operationId: 'totalUnread',
      summary: 'TIMConvGetTotalUnreadMessageCount: unread over all conversations',
      response: { 200: TotalUnread, ...errors(400, 401) },
    },
  }, async (request) => ({ total_unread_num: await app.conversations.totalUnread(request.identity) }))

  app.post('/conversations/read', {
    config: { idempotent: true, optionalBody: true },
    preValidation: async (request) => { if (request.body === undefined) request.body = {} },
    schema: {
      tags,
      operationId: 'markAllRead',
      summary: 'TIMMsgMarkAllMessageAsRead: every conversation read',
      description: 'Moves the caller\'s read point in every conversation to its newest message (a C2C move is a read receipt to the peer, as for POST …/read).',
      body: example(Empty, {}),
      response: { 204: NoContent, ...errors(400, 401, 409, 413, 415) },
    },
  }, async (request, reply) => {
    await app.conversations.markAllRead(request.identity)
    return reply.status(204).send(null)
  })

  app.get('/conversations/:conversationID', {
    schema: {
      tags,
      operationId: 'getConversation',
      summary: 'TIMConvGetConvInfo: one conversation',
      description: 'Listed or not (a C2C peer with no history: unread 0, no last message); asking never adds it to the list.',
      params: ConversationParams,
      response: { 200: ConvInfo, ...errors(400, 401, 403, 404) },
    },
  }, async (request) => app.conversations.get(request.identity, request.params.conversationID))

  app.delete('/conversations/:conversationID', {
    schema: {
      tags,
      operationId: 'deleteConversation',
      summary: 'TIMConvDelete: off the list, its history deleted for the caller',
      description: 'Removes it from the caller\'s list until its next message, unpins it, and deletes its history for the caller (as DELETE …/messages).',
      params: ConversationParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await app.conversations.remove(request.identity, request.params.conversationID)
    return reply.status(204).send(null)
  })

  app.put('/conversations/:conversationID/pin', {
    schema: {
      tags,
      operationId: 'pinConversation',
      summary: 'TIMConvPinConversation: pin',
      description: 'Pinned conversations come first in the list. A C2C conversation may be pinned before its first message.',
      params: ConversationParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await app.conversations.pin(request.identity, request.params.conversationID, true)
    return reply.status(204).send(null)
  })

  app.delete('/conversations/:conversationID/pin', {
    schema: {
      tags,
      operationId: 'unpinConversation',
      summary: 'TIMConvPinConversation: unpin',
      params: ConversationParams,
      response: { 204: NoContent, ...errors(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await app.conversations.pin(request.identity, request.params.conversationID, false)
    return reply.status(204).send(null)
  })
}

export default conversationRoutes
