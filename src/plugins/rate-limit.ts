import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Errors } from '../errors.js'

export interface RateLimitOptions {
  /** Requests per second per identity; 0 turns limiting off. Bursts of twice that. */
  perSecond: number
  adminIdentifier: string
  /** Milliseconds now; injectable for tests. */
  now?: () => number
}

interface Bucket { tokens: number, at: number }

/** Idle buckets are dropped after this long, so memory follows the active identities. */
const IDLE_MS = 60_000

/** Token buckets by key: `perSecond` tokens a second, up to twice that stored. */
export interface TokenBuckets {
  /** Takes a token for `key`: undefined when there was one, else the whole seconds until there is. */
  take (key: string): number | undefined
}

/** Token buckets whose idle entries are swept while `app` runs. */
export function tokenBuckets (app: FastifyInstance, perSecond: number, now: () => number): TokenBuckets {
  const capacity = perSecond * 2
  const buckets = new Map<string, Bucket>()
  const sweep = setInterval(() => {
    const cutoff = now() - IDLE_MS
    for (const [key, b] of buckets) if (b.at < cutoff) buckets.delete(key)
  }, IDLE_MS)
  sweep.unref()
  app.addHook('onClose', async () => clearInterval(sweep))
  return {
    take (key) {
      const t = now()
      const b = buckets.get(key) ?? { tokens: capacity, at: t }
      b.tokens = Math.min(capacity, b.tokens + (t - b.at) * perSecond / 1000)
      b.at = t
      buckets.set(key, b)
      if (b.tokens >= 1) {
        b.tokens -= 1
        return undefined
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / perSecond))
    },
  }
}

/**
 * A token bucket per identity (the UserSig's identifier) on every authenticated route:
 * `perSecond` tokens a second, up to twice that stored. The admin identity is exempt.
 */
export default fp<RateLimitOptions>(async (app, opts) => {
  if (opts.perSecond === 0) return
  const buckets = tokenBuckets(app, opts.perSecond, opts.now ?? Date.now)
  // A callback hook: no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    const who = request.identity
    if (who === null || who === undefined || who.caller === opts.adminIdentifier) return done()
    const waitS = buckets.take(who.caller)
    if (waitS === undefined) return done()
    reply.header('retry-after', String(waitS))
    done(Errors.rateLimited(opts.perSecond))
  })
}, { name: 'timgate-rate-limit', dependencies: ['timgate-identity'] })
