import fp from 'fastify-plugin'
import type { onRequestAsyncHookHandler } from 'fastify'
import { Errors } from '../errors.js'
import { tokenBuckets } from './rate-limit.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Sends content (an element's or an upload's): TIM_DOWNLOAD_RATE_LIMIT and TIM_DOWNLOAD_CONCURRENCY apply. */
    download?: boolean
  }
}

export interface DownloadLimitOptions {
  /** TIM_DOWNLOAD_RATE_LIMIT: downloads per second per identity, bursts of twice that; 0 = off. */
  perSecond: number
  /** TIM_DOWNLOAD_CONCURRENCY: downloads in progress per identity; 0 = no cap. */
  concurrency: number
  adminIdentifier: string
  /** Milliseconds now; injectable for tests. */
  now?: () => number
}

/**
 * The abuse limits of the routes marked `config.download`, per identity (the UserSig's
 * identifier; the admin is exempt): a token bucket, and a cap on downloads in progress.
 * A slot is held from the request's arrival until its response closes, which is when
 * the response has finished, the client has gone or the request failed.
 */
export default fp<DownloadLimitOptions>(async (app, opts) => {
  const buckets = opts.perSecond === 0 ? undefined : tokenBuckets(app, opts.perSecond, opts.now ?? Date.now)
  const inProgress = new Map<string, number>()
  const release = (caller: string) => {
    const left = (inProgress.get(caller) ?? 1) - 1
    if (left === 0) inProgress.delete(caller)
    else inProgress.set(caller, left)
  }

  const limit: onRequestAsyncHookHandler = async (request, reply) => {
    const { caller } = request.identity
    if (caller === opts.adminIdentifier) return
    const waitS = buckets?.take(caller)
    if (waitS !== undefined) {
      reply.header('retry-after', String(waitS))
      throw Errors.downloadRateLimited(opts.perSecond)
    }
    // A response closed already (the client left before this hook) would never release.
    if (opts.concurrency === 0 || reply.raw.destroyed) return
    const held = inProgress.get(caller) ?? 0
    if (held >= opts.concurrency) {
      reply.header('retry-after', '1')
      throw Errors.downloadsInProgress(opts.concurrency)
    }
    inProgress.set(caller, held + 1)
    reply.raw.once('close', () => release(caller))
  }
  // A hook of the download routes alone, after the app's (identity first): other routes pay nothing.
  app.addHook('onRoute', (route) => {
    if (route.config?.download === true) route.onRequest = [route.onRequest ?? []].flat().concat(limit)
  })
}, { name: 'timgate-download-limits', dependencies: ['timgate-identity'] })
