import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { Errors } from '../src/errors.js'
import { EVENT_TYPES } from '../src/webhooks/service.js'
import { errors, example } from './responses.js'

const tags = ['webhooks']
const EventTypes = Type.Array(Type.String({ enum: EVENT_TYPES }), {
  maxItems: 8,
  description: 'message, revoke, read_receipt (default: all three); or ["before_send"] alone for the before-send hook (at most one)',
})
const NewWebhook = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'where to POST: http(s), its host in TIM_WEBHOOK_ALLOWED_HOSTS' }),
  event_types: Type.Optional(EventTypes),
  secret: Type.Optional(Type.String({ maxLength: 200, description: 'whsec_<base64 key of 16-64 bytes>; generated when absent' })),
}, { additionalProperties: false, title: 'NewWebhook' })
const Nullable = <T extends ReturnType<typeof Type.Integer> | ReturnType<typeof Type.String>>(t: T, description: string) =>
  Type.Union([t, Type.Null()], { description })
const Created = Type.Object({
  id: Type.String({ description: 'the webhook\'s id' }),
  url: Type.String(),
  event_types: Type.Array(Type.String()),
  secret: Type.String({ description: 'whsec_<base64 key>: what receivers verify signatures with; returned only here' }),
  created_at: Type.Integer({ description: 'unix seconds' }),
}, { title: 'CreatedWebhook', description: 'the webhook registered' })
const WebhookOut = Type.Object({
  id: Type.String({ description: 'the webhook\'s id' }),
  url: Type.String(),
  event_types: Type.Array(Type.String()),
  created_at: Type.Integer({ description: 'unix seconds' }),
  pending: Type.Integer({ description: 'deliveries owed now (queued and being retried)' }),
  last_success_at: Nullable(Type.Integer(), 'unix seconds of the last delivery answered 2xx, or null'),
  last_error: Nullable(Type.String(), 'why the last failed attempt failed (or that a delivery was dropped), or null'),
  last_error_at: Nullable(Type.Integer(), 'unix seconds of the last failed attempt, or null'),
}, { title: 'Webhook', description: 'a webhook and how its deliveries go' })
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'a webhook id', examples: ['wh_example'] }) })

/** Webhooks are the app's: the admin's alone (CONTRACT §8). */
const adminOnly = async (request: FastifyRequest) => {
  if (!request.identity.isAdmin) throw Errors.permissionDenied('only the admin may manage webhooks')
}

/** POST/GET/DELETE /webhooks (CONTRACT §8). */
const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('preHandler', adminOnly)

  app.post('/webhooks', {
    schema: {
      tags,
      operationId: 'createWebhook',
      summary: 'Register a webhook (admin): events POSTed, signed as Standard Webhooks; or the before-send hook',
      description: 'Every app-stream event of a subscribed type is POSTed as its envelope with webhook-id (the event_id), webhook-timestamp and webhook-signature. ' +
        'Not 2xx, a connection error or TIM_WEBHOOK_TIMEOUT_MS: retried with growing delays for at least 24 h. A URL the guard refuses → 400; a second before-send hook → 409.',
      body: example(NewWebhook, { url: 'https://hooks.example.com/timgate', event_types: ['message', 'revoke'] }),
      response: { 201: Created, ...errors(400, 401, 403, 409, 413, 415) },
    },
  }, async (request, reply) => reply.status(201).send(await app.webhooks.create(request.body)))

  app.get('/webhooks', {
    schema: {
      tags,
      operationId: 'listWebhooks',
      summary: 'Every webhook (admin)',
      response: { 200: Type.Array(WebhookOut, { description: 'the webhooks, oldest first' }), ...errors(400, 401, 403) },
    },
  }, async () => app.webhooks.list())

  app.get('/webhooks/:id', {
    schema: {
      tags,
      operationId: 'getWebhook',
      summary: 'A webhook and its deliveries: pending, last success, last error (admin)',
      params: IdParams,
      response: { 200: WebhookOut, ...errors(400, 401, 403, 404) },
    },
  }, async (request) => app.webhooks.get(request.params.id))

  app.delete('/webhooks/:id', {
    schema: {
      tags,
      operationId: 'deleteWebhook',
      summary: 'Delete a webhook and what it is owed: no further deliveries (admin)',
      params: IdParams,
      response: { 204: Type.Null({ description: 'deleted' }), ...errors(400, 401, 403, 404) },
    },
  }, async (request, reply) => {
    await app.webhooks.delete(request.params.id)
    return reply.status(204).send(null)
  })
}

export default webhookRoutes
