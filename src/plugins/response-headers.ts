import fp from 'fastify-plugin'

export const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' } as const

/** Every response: its request id, the security headers, and no caching unless a route says otherwise. */
export default fp(async (app) => {
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id).headers(SECURITY_HEADERS)
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    done(null, payload)
  })
}, { name: 'timgate-response-headers' })
