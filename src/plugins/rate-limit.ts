import fp from 'fastify-plugin'
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

/**
 * A token bucket per identity (the UserSig's identifier) on every authenticated route:
 * `perSecond` tokens a second, up to twice that stored. The admin identity is exempt.
 */
export default fp<RateLimitOptions>(async (app, opts) => {
  if (opts.perSecond === 0) return
  const now = opts.now ?? Date.now
  const capacity = opts.perSecond * 2
  const buckets = new Map<string, Bucket>()
  const sweep = setInterval(() => {
    const cutoff = now() - IDLE_MS
    for (const [id, b] of buckets) if (b.at < cutoff) buckets.delete(id)
  }, IDLE_MS)
  sweep.unref()
  app.addHook('onClose', async () => clearInterval(sweep))

  app.addHook('onRequest', async (request, reply) => {
    const who = request.identity
    if (who === null || who === undefined || who.caller === opts.adminIdentifier) return
    const t = now()
    const b = buckets.get(who.caller) ?? { tokens: capacity, at: t }
    b.tokens = Math.min(capacity, b.tokens + (t - b.at) * opts.perSecond / 1000)
    b.at = t
    buckets.set(who.caller, b)
    if (b.tokens >= 1) {
      b.tokens -= 1
      return
    }
    const waitS = Math.max(1, Math.ceil((1 - b.tokens) / opts.perSecond))
    reply.header('retry-after', String(waitS))
    throw Errors.rateLimited(opts.perSecond)
  })
}, { name: 'timgate-rate-limit', dependencies: ['timgate-identity'] })
