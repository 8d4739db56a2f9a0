import fp from 'fastify-plugin'
import type { FastifyInstance, preParsingHookHandler } from 'fastify'
import type { Socket } from 'node:net'
import { Errors } from '../errors.js'
import { rawErrorResponse } from './errors.js'
import { streamingSockets } from '../events/stream.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body is an upload: only the server's 5-minute request timeout bounds it, not TIM_BODY_TIMEOUT_MS. */
    upload?: boolean
  }
}

export interface BodyTimeoutOptions {
  /** TIM_BODY_TIMEOUT_MS */
  timeoutMs: number
}

/**
 * A request body that is still arriving when parsing starts must arrive within
 * `timeoutMs`, except on upload routes; else 408 {code, desc} and the connection closes.
 * The timeout is raised as an 'error' on the body stream, which Fastify's body reader
 * listens for: the parse fails (the error handler answers) while the socket stays open
 * long enough to carry the answer. A timer and two listeners per request, no stream.
 */
export default fp<BodyTimeoutOptions>(async (app, opts) => {
  const bodyTimeout: preParsingHookHandler = (request, reply, payload, done) => {
    if (request.raw.complete) return done(null, payload)
    const timer = setTimeout(() => {
      // Nobody reads the body any more (it failed otherwise): nothing to interrupt.
      if (payload.listenerCount('error') === 0) return
      reply.header('connection', 'close')
      payload.emit('error', Errors.requestTimeout(`the body did not arrive within ${opts.timeoutMs} ms (TIM_BODY_TIMEOUT_MS)`))
    }, opts.timeoutMs)
    const clear = () => clearTimeout(timer)
    payload.once('end', clear)
    reply.raw.once('close', clear)
    done(null, payload)
  }
  // Only routes that read a body: not GET or HEAD, and not uploads.
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat()
    if (route.config?.upload === true || methods.every(m => m === 'GET' || m === 'HEAD')) return
    route.preParsing = [route.preParsing ?? []].flat().concat(bodyTimeout)
  })
}, { name: 'timgate-body-timeout' })

/**
 * Fastify's clientErrorHandler: Node's own connection-level refusals (headers not in within
 * headersTimeout, a request over the 5-minute requestTimeout, malformed HTTP, oversized
 * headers) answered in the catalogue's {code, desc}, then the connection is closed.
 */
export function answerClientError (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  this.log.trace({ err }, 'client error')
  const e = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? Errors.requestTimeout('the headers, or the whole request, did not arrive in time')
    : err.code === 'HPE_HEADER_OVERFLOW' ? Errors.headersTooLarge() : Errors.malformedHttp(err.code ?? 'unparsable')
  // A response already under way on this connection (an event stream writes its own) must
  // not be corrupted: just close.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage
  if (socket.writable && inFlight?.headersSent !== true && !streamingSockets.has(socket)) socket.end(rawErrorResponse(e))
  socket.destroySoon()
}
