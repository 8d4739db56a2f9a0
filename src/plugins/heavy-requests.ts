import fp from 'fastify-plugin'
import type { onRequestHookHandler } from 'fastify'
import { Errors } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Carries up to 16 MiB (import, batch send): admitted only while the gateway can take it on. */
    heavy?: boolean
  }
}

export interface HeavyRequestOptions {
  /** TIM_HEAVY_CONCURRENCY: heavy requests in progress in all; 0 turns admission off. */
  concurrency: number
}

/**
 * Heavy requests (CONTRACT §12) are admitted one at a time per identity (the UserSig's
 * identifier, the admin's too) and `concurrency` at a time in all. Beyond that they are
 * refused at once, on their headers, before a byte of the body is read: 429 9506 with
 * Retry-After and the connection closed, never queued. A slot is held from the request's arrival until its response
 * closes (finished, failed or the client gone). What a heavy request does is sliced so
 * that admitted ones share the event loop with everyone else (src/slices.ts).
 */
export default fp<HeavyRequestOptions>(async (app, opts) => {
  const callers = new Set<string>()
  let inProgress = 0

  const admit: onRequestHookHandler = (request, reply, done) => {
    const { caller } = request.identity
    const busy = callers.has(caller) || inProgress >= opts.concurrency
    if (busy) {
      // The connection closes after the answer: reading a 16 MiB body only to drop it
      // would cost the event loop what the refusal saves (RFC 9112 §9.6).
      reply.header('retry-after', '1').header('connection', 'close')
      return done(Errors.heavyBusy(callers.has(caller)))
    }
    // A response closed already (the client left before this hook) would never release.
    if (reply.raw.destroyed) return done()
    callers.add(caller)
    inProgress++
    reply.raw.once('close', () => {
      callers.delete(caller)
      inProgress--
    })
    done()
  }
  // 0 turns admission off, the one-per-identity rule with it (as TIM_RATE_LIMIT=0 does).
  if (opts.concurrency === 0) return
  // A hook of the heavy routes alone, after the app's (identity first): other routes pay nothing.
  app.addHook('onRoute', (route) => {
    if (route.config?.heavy === true) route.onRequest = [route.onRequest ?? []].flat().concat(admit)
  })
}, { name: 'timgate-heavy-requests', dependencies: ['timgate-identity'] })
