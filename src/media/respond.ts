import type { FastifyReply, FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import { sendError as error } from '../plugins/errors.js'
import type { Content } from './download.js'
import { beyondAnyContent, contentDisposition, ifRangeAllows, noneMatch, parseRange, resolveRange } from './http-range.js'
import { drop, type RemoteFetcher } from './remote.js'

/**
 * Sends a download's bytes, streamed: Content-Length, Content-Type, ETag, Accept-Ranges,
 * 304 for a matching If-None-Match, 206 for a single satisfiable Range, 416 otherwise.
 * Only the headers set here reach the client; nothing of an upstream's own passes.
 */

type Headers = Record<string, string | number>

/** Headers every download answer carries (a 304 too: RFC 9110 §15.4.5). */
function base (content: Content, etag: string | undefined): Headers {
  return {
    'accept-ranges': 'bytes',
    'cache-control': 'private, no-cache',
    // Uploaded HTML or SVG must never run as a page of the gateway's origin.
    'content-security-policy': "default-src 'none'; sandbox",
    'x-content-type-options': 'nosniff',
    ...(etag !== undefined && { etag }),
    ...(content.fileName !== undefined && { 'content-disposition': contentDisposition(content.fileName) }),
  }
}

const header = (request: FastifyRequest, name: string): string | undefined => {
  const v = request.headers[name]
  return typeof v === 'string' ? v : undefined
}

export async function sendContent (request: FastifyRequest, reply: FastifyReply, content: Content, upstream: RemoteFetcher): Promise<FastifyReply> {
  return content.kind === 'stored' ? sendStored(request, reply, content) : sendRemote(request, reply, content, upstream)
}

async function sendStored (request: FastifyRequest, reply: FastifyReply, content: Extract<Content, { kind: 'stored' }>): Promise<FastifyReply> {
  const etag = `"${content.upload.sha256}"`
  const headers = base(content, etag)
  if (noneMatch(header(request, 'if-none-match'), etag)) return reply.code(304).headers(headers).send()
  const size = content.upload.size
  const spec = ifRangeAllows(header(request, 'if-range'), etag) ? parseRange(header(request, 'range')) : undefined
  const span = spec === undefined ? { start: 0, end: size - 1 } : resolveRange(spec, size)
  if (span === undefined) {
    return error(reply.headers(headers).header('content-range', `bytes */${size}`), Errors.rangeNotSatisfiable(String(size)))
  }
  // Opened before answering: a missing blob or a bucket that does not answer is a clean
  // error answer, not a cut-off response.
  const body = size === 0 ? Buffer.alloc(0) : await content.open(span)
  reply.headers({ ...headers, 'content-type': content.upload.content_type, 'content-length': span.end - span.start + 1 })
  if (spec !== undefined) reply.code(206).header('content-range', `bytes ${span.start}-${span.end}/${size}`)
  return reply.send(body)
}

async function sendRemote (request: FastifyRequest, reply: FastifyReply, content: Extract<Content, { kind: 'remote' }>, upstream: RemoteFetcher): Promise<FastifyReply> {
  // The response's 'close' comes when it is done or the client has gone: either way the
  // upstream request has nothing more to do.
  const abort = new AbortController()
  reply.raw.once('close', () => abort.abort())
  const ifNoneMatch = header(request, 'if-none-match')
  const range = parseRange(header(request, 'range'))
  const ifRange = header(request, 'if-range')
  // A first byte beyond 2^53 is past the end of anything: the gateway answers 416 itself
  // (an origin might ignore or misread such a Range), once the content's ETag and length are known.
  const beyond = beyondAnyContent(range)
  const res = await upstream.open(content.url, {
    signal: abort.signal,
    ...(range !== undefined && !beyond && { range }),
    ...(ifRange !== undefined && { ifRange }),
    ...(ifNoneMatch !== undefined && { ifNoneMatch }),
  })
  const headers = base(content, res.etag)
  if (res.status === 304 || noneMatch(ifNoneMatch, res.etag)) {
    if (res.body !== undefined) drop(res.body)
    return reply.code(304).headers(headers).send()
  }
  if (beyond && ifRangeAllows(ifRange, res.etag)) {
    if (res.body !== undefined) drop(res.body)
    const size = res.contentLength === undefined ? '*' : String(res.contentLength)
    return error(reply.headers(headers).header('content-range', `bytes */${size}`), Errors.rangeNotSatisfiable(res.contentLength === undefined ? 'unknown number of' : size))
  }
  if (res.status === 416) {
    return error(reply.headers(headers).header('content-range', res.contentRange ?? 'bytes */*'), Errors.rangeNotSatisfiable(res.contentRange?.split('/')[1] ?? 'unknown number of'))
  }
  reply.code(res.status).headers({
    ...headers,
    'content-type': res.contentType,
    ...(res.contentLength !== undefined && { 'content-length': res.contentLength }),
    ...(res.contentRange !== undefined && { 'content-range': res.contentRange }),
    ...(res.contentEncoding !== undefined && { 'content-encoding': res.contentEncoding }),
  })
  return reply.send(res.body)
}
