import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import { isUserId } from '../messages/ids.js'
import type { Identity } from '../messages/service.js'
import { verifyUserSig, type VerifiedSig } from './usersig.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request acts as; set for every route not marked `config.public`. */
    identity: Identity
  }
  interface FastifyContextConfig {
    /** No UserSig needed (health, metrics, docs). */
    public?: boolean
  }
}

export interface IdentityOptions {
  sdkAppId: number
  secretKey: string
  adminIdentifier: string
  /** Unix seconds now (tests advance a fake clock); Date.now() by default. */
  now?: () => number
}

/** Verified UserSigs are kept (until they expire) so that a request costs no inflate and HMAC. */
const CACHE_SIZE = 10_000

/**
 * Verifies `Authorization: Bearer <UserSig>` on every non-public route and resolves
 * X-TIM-On-Behalf-Of (the admin only). 401 and 403 errors come from the catalogue.
 */
export default fp<IdentityOptions>(async (app, opts) => {
  const cache = new Map<string, VerifiedSig>()
  const clock = opts.now ?? (() => Math.floor(Date.now() / 1000))

  const verify = (sig: string): VerifiedSig => {
    const now = clock()
    const hit = cache.get(sig)
    if (hit !== undefined && hit.expiresAt >= now) return hit
    const verified = verifyUserSig(opts.sdkAppId, opts.secretKey, sig, now)
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!)
    cache.set(sig, verified)
    return verified
  }

  app.decorateRequest('identity', null as unknown as Identity)
  const identify = (request: FastifyRequest): Identity => {
    const header = request.headers.authorization
    const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header)
    if (match === null) throw Errors.sigMissing()
    const { identifier: caller, expiresAt } = verify(match[1]!)
    const isAdmin = caller === opts.adminIdentifier
    const onBehalfOf = request.headers['x-tim-on-behalf-of']
    let actAs = caller
    if (onBehalfOf !== undefined) {
      if (!isAdmin) throw Errors.permissionDenied('only the admin identifier may use X-TIM-On-Behalf-Of')
      if (typeof onBehalfOf !== 'string' || !isUserId(onBehalfOf)) throw Errors.invalidIdentifier('in X-TIM-On-Behalf-Of')
      actAs = onBehalfOf
    }
    return { caller, actAs, isAdmin, expiresAt }
  }

  // A callback hook: no promise per request. A path that matches no route is a 404 with or
  // without a UserSig: asking for one first would send the client after the wrong fix.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.routeOptions.config.public === true || request.is404) return done()
    try {
      request.identity = identify(request)
    } catch (err) {
      return done(err as Error)
    }
    done()
  })
}, { name: 'timgate-identity' })
