import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Errors, TimError } from '../src/errors.js'
import { RETRY_AFTER_S } from '../src/plugins/errors.js'
import { ErrorBody } from '../src/messages/schemas.js'

/** Health, Prometheus metrics and the OpenAPI document: public, no UserSig. */
const systemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/', {
    config: { public: true },
    schema: {
      tags: ['system'],
      operationId: 'getRoot',
      summary: 'Where to start: a browser is sent to /docs, anything else gets the addresses',
      security: [],
      response: {
        200: Type.Object({
          name: Type.Literal('timgate'),
          docs: Type.String({ description: 'the API reference page' }),
          openapi: Type.String({ description: 'the OpenAPI document' }),
          health: Type.String({ description: 'liveness and readiness' }),
        }, { description: 'the gateway\'s addresses' }),
        302: Type.Null({ description: 'to /docs, for a browser (Accept: text/html)' }),
      },
    },
  }, async (request, reply) => {
    if ((request.headers.accept ?? '').includes('text/html')) return reply.redirect('/docs', 302)
    return { name: 'timgate' as const, docs: '/docs', openapi: '/openapi.json', health: '/health' }
  })

  app.get('/health', {
    config: { public: true },
    schema: {
      tags: ['system'],
      operationId: 'getHealth',
      summary: 'Liveness and readiness: the database answers and the storage has room',
      description: 'A load balancer should send no traffic while this answers 503: its desc names the condition (shutting down, the database unavailable, the storage full); each clears by itself when it passes.',
      security: [],
      response: {
        200: Type.Object({ status: Type.Literal('ok'), store: Type.String({ description: 'the store in use' }) }, { description: 'the gateway can serve' }),
        503: { ...ErrorBody, description: 'shutting down, the database unavailable (6019), or the storage full (6022); see Retry-After' },
      },
    },
  }, async (request, reply) => {
    const condition = await app.conditions.check()
    if (condition === undefined) return { status: 'ok' as const, store: app.store.kind }
    request.log.warn({ condition }, 'not ready')
    const e = condition === 'database' ? Errors.databaseUnavailable() : Errors.storageFull('anything')
    reply.header('retry-after', String(RETRY_AFTER_S[condition]))
    // The condition's own code and desc, as a 503: health is about readiness, not about a write.
    throw new TimError(e.code, 503, e.message)
  })

  app.get('/metrics', {
    config: { public: true },
    schema: {
      tags: ['system'],
      operationId: 'getMetrics',
      summary: 'Prometheus metrics (text format 0.0.4)',
      description: 'timgate_http_requests_total{method,route,status}, timgate_http_request_duration_seconds{method,route} (histogram), timgate_messages_stored_total, ' +
        'timgate_webhook_deliveries_total{result}, timgate_webhook_retries_total, timgate_webhook_dropped_total, timgate_webhook_pending, timgate_webhook_oldest_pending_seconds, ' +
        'timgate_before_send_total{result}, process_resident_memory_bytes.',
      security: [],
      produces: ['text/plain'],
      response: { 200: Type.String({ description: 'Prometheus text exposition' }) },
    },
  }, async (_request, reply) => {
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(app.metrics.render())
  })

  app.get('/openapi.json', {
    config: { public: true },
    schema: { hide: true },
  }, async () => app.swagger())
}

export default systemRoutes
