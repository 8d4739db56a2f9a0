import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { Errors } from '../src/errors.js'
import { ErrorBody } from '../src/messages/schemas.js'

/** Health, Prometheus metrics and the OpenAPI document: public, no UserSig. */
const systemRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health', {
    config: { public: true },
    schema: {
      tags: ['system'],
      operationId: 'getHealth',
      summary: 'Liveness and database readiness',
      security: [],
      response: {
        200: Type.Object({ status: Type.Literal('ok'), store: Type.String({ description: 'the store in use' }) }, { description: 'the gateway and its database answer' }),
        503: { ...ErrorBody, description: 'shutting down, or the database does not answer' },
      },
    },
  }, async (request) => {
    try {
      await app.store.ping()
    } catch (err) {
      request.log.error({ err }, 'the store does not answer')
      throw Errors.unavailable('the database does not answer')
    }
    return { status: 'ok' as const, store: app.store.kind }
  })

  app.get('/metrics', {
    config: { public: true },
    schema: {
      tags: ['system'],
      operationId: 'getMetrics',
      summary: 'Prometheus metrics (text format 0.0.4)',
      description: 'timgate_http_requests_total{method,route,status}, timgate_http_request_duration_seconds{method,route} (histogram), timgate_messages_stored_total, process_resident_memory_bytes.',
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
