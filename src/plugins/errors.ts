import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { Errors, TimError } from '../errors.js'
import { StorageFull, StoreUnavailable } from '../../db/errors.js'
import { MediaUnavailable } from '../media/uploads.js'

/**
 * The one renderer of `{code, desc}`: every failure, ours or Fastify's, becomes the
 * catalogue's TimError here and is answered the same way, 5xx internals hidden.
 */

/** JSON bodies over this are refused with 413 (CONTRACT §7). */
export const BODY_LIMIT = 1024 * 1024

/** "body/message_elem_array/0/text_elem_content" → "message_elem_array[0].text_elem_content" */
function keyPath (instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(p => p !== '')
  if (extra !== undefined) parts.push(extra)
  return parts.reduce((acc, p) => /^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`, '')
}

function validationDesc (err: FastifyError): string {
  const first = err.validation?.[0]
  const part = err.validationContext ?? 'body'
  if (first === undefined) return `invalid ${part}`
  const missing = (first.params as { missingProperty?: string }).missingProperty
  if (first.keyword === 'required' && missing !== undefined) {
    return `${part === 'body' ? '' : `${part} `}${keyPath(first.instancePath, missing)} is required`
  }
  const path = keyPath(first.instancePath)
  return `${path === '' ? part : `${part === 'body' ? '' : `${part} `}${path}`} ${first.message ?? 'is invalid'}`
}

/** Seconds a client should wait before retrying, by condition. */
export const RETRY_AFTER_S = { storage: 10, database: 2 } as const

/** Any error as the catalogue's TimError: ours as they are, Fastify's and the store's by their meaning, the rest 500. */
export function toTimError (err: FastifyError, bodyLimit: number, contentType: string | undefined): TimError {
  if (err instanceof TimError) return err
  if (err instanceof StorageFull) return Errors.storageFull('the change')
  if (err instanceof StoreUnavailable) return Errors.databaseUnavailable()
  if (err instanceof MediaUnavailable) return Errors.mediaStorageUnavailable()
  if (err.validation !== undefined) return Errors.invalidParameter(validationDesc(err))
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return Errors.bodyTooLarge(bodyLimit)
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return Errors.unsupportedMediaType(contentType ?? 'none')
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new TimError(6017, err.statusCode, err.message, { cause: err })
  }
  return new TimError(Errors.internal().code, 500, Errors.internal().message, { cause: err })
}

/** The body of an error answer. */
export const errorBody = (e: TimError) => ({ code: e.code, desc: e.message })

const answered = new WeakMap<FastifyReply, TimError>()

/** The error a reply answered, for its log line. */
export const answeredError = (reply: FastifyReply): TimError | undefined => answered.get(reply)

/** Answers `e` on a reply (headers already set on it stay). */
export function sendError (reply: FastifyReply, e: TimError): FastifyReply {
  answered.set(reply, e)
  return reply.code(e.statusCode).send(errorBody(e))
}

/** `e` as a whole HTTP/1.1 response (with `headers` besides its own), for a socket that Fastify no longer (or not yet) serves; the connection closes. */
export function rawErrorResponse (e: TimError, headers: Record<string, string> = {}): string {
  const body = JSON.stringify(errorBody(e))
  return `HTTP/1.1 ${e.statusCode} ${STATUS_CODES[e.statusCode] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
}

/** Fastify's `frameworkErrors`: errors raised before routing (a bad URL encoding, say) answered the same way. */
export function frameworkErrors (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, toTimError(err, BODY_LIMIT, request.headers['content-type']))
}

/** The app's error and not-found handlers. */
export default fp(async (app) => {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = toTimError(err, request.routeOptions.bodyLimit ?? BODY_LIMIT, request.headers['content-type'])
    // A failure caused by the client leaving (an aborted download) is not the server's.
    if (reply.raw.destroyed) request.log.info({ err }, 'request ended: the client went away')
    else if (e.statusCode === 507 || e.statusCode === 503) request.log.warn({ err }, e.message)
    else if (e.statusCode >= 500) request.log.error({ err }, 'request failed')
    // Conditions, not faults: they pass by themselves, and /health says so meanwhile.
    if (e.statusCode === 507) app.conditions.storageFull()
    const retryAfter = e.statusCode === 507 ? RETRY_AFTER_S.storage : err instanceof StoreUnavailable || err instanceof MediaUnavailable ? RETRY_AFTER_S.database : undefined
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    return sendError(reply, e)
  })
  app.setNotFoundHandler((request, reply) => sendError(reply, Errors.routeNotFound(request.method, request.url.split('?')[0] ?? '')))
}, { name: 'timgate-errors', dependencies: ['timgate-conditions'] })
