import fp from 'fastify-plugin'
import { Agent, type Dispatcher } from 'undici'
import { RemoteFetcher } from './remote.js'
import { guardedLookup, TargetGuard } from './targets.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Fetches remote element URLs for downloads, through the one guarded dispatcher. */
    upstream: RemoteFetcher
  }
}

export interface UpstreamOptions {
  /** TIM_DOWNLOAD_ALLOWED_HOSTS */
  allowedHosts: readonly string[]
  /** TIM_DOWNLOAD_TIMEOUT_MS: connect, the answer's headers, idle gaps in the body, and the window of its minimum rate. */
  timeoutMs: number
  /** TIM_MEDIA_MAX_BYTES: the most bytes one remote fetch may pass on. */
  maxBytes: number
  /** Use this dispatcher instead of the plugin's own Agent (tests); whoever made it closes it. */
  dispatcher?: Dispatcher
}

/**
 * The one undici Agent of every outbound fetch. Its connect step resolves names with
 * guardedLookup, so the address actually connected to is the one that was checked.
 */
export default fp<UpstreamOptions>(async (app, opts) => {
  const own = opts.dispatcher === undefined
    ? new Agent({
      connect: { timeout: opts.timeoutMs, lookup: guardedLookup },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
    })
    : undefined
  app.decorate('upstream', new RemoteFetcher(own ?? opts.dispatcher!, new TargetGuard(opts.allowedHosts), opts.maxBytes, opts.timeoutMs))
  // By onClose the server has answered what it will; fetches still open are abandoned.
  if (own !== undefined) app.addHook('onClose', async () => { await own.destroy() })
}, { name: 'timgate-upstream' })
