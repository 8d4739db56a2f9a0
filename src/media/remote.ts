import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream'
import type { Dispatcher } from 'undici'
import { Errors, TimError } from '../errors.js'
import { rangeHeader, type RangeSpec } from './http-range.js'
import { ForbiddenAddressError, type TargetGuard } from './targets.js'

/**
 * Fetches a remote element URL for a download (CONTRACT §6): through the one upstream
 * dispatcher (whose connect-time lookup refuses forbidden addresses), following up to
 * five redirects by hand so that every Location passes the same TargetGuard check, and
 * translating what goes wrong into the catalogue's 403 / 502 / 504.
 */

export const MAX_REDIRECTS = 5
/** Body read-ahead: large steps cost fewer chunk hand-offs on the way to the client. */
const BODY_BUFFER = 1024 * 1024
const REDIRECTS = new Set([301, 302, 303, 307, 308])
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

const TOKEN = "[\\w!#$%&'*+.^`|~-]+"
// Printable ASCII only: anything else would make Node refuse the header mid-answer.
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]*"))*$`)
const ETAG = /^(?:W\/)?"[\x21\x23-\x7e]*"$/
const CONTENT_RANGE = /^bytes (?:\d+-\d+|\*)\/(?:\d+|\*)$/

export interface RemoteRequest {
  range?: RangeSpec
  ifRange?: string
  ifNoneMatch?: string
  /** Aborted when the client goes away: the upstream request goes with it. */
  signal: AbortSignal
}

/** What a download answers for a remote URL: only these headers, never the upstream's own. */
export interface RemoteResponse {
  status: 200 | 206 | 304 | 416
  contentType: string
  contentLength?: number
  contentRange?: string
  contentEncoding?: string
  etag?: string
  /** Undefined for 304 and 416 (their upstream bodies are already destroyed). */
  body?: Readable
}

type Headers = Dispatcher.ResponseData['headers']
const one = (headers: Headers, name: string): string | undefined => {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}
const valid = (value: string | undefined, pattern: RegExp) => value !== undefined && pattern.test(value) ? value : undefined

/** Abandons an upstream body; the abort error it then emits has nobody to tell. */
export function drop (body: Readable): void {
  body.on('error', () => {})
  body.destroy()
}

/** The first ForbiddenAddressError in an error's cause chain. */
function forbidden (err: unknown): ForbiddenAddressError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ForbiddenAddressError) return e
  }
  return undefined
}

/** An undici/socket failure as the catalogue's error, keeping the original as cause. */
function translate (err: unknown, url: URL): TimError {
  if (err instanceof TimError) return err
  const refused = forbidden(err)
  if (refused !== undefined) return Errors.downloadRefused(refused.message)
  const code = (err as { code?: string }).code
  const why = `${url.host}: ${code ?? (err as Error).message}`
  const e = code !== undefined && TIMEOUTS.has(code) ? Errors.upstreamTimeout(why) : Errors.upstreamUnreachable(why)
  return Object.assign(e, { cause: err })
}

/** Passes at most `max` bytes; one more fails the stream (and so the upstream request). */
function capped (body: Readable, max: number, url: URL): Readable {
  let seen = 0
  const cap = new Transform({
    transform (chunk: Buffer, _enc, done) {
      seen += chunk.length
      if (seen > max) return done(Errors.upstreamFailed(`${url.host} sent more than ${max} bytes (TIM_MEDIA_MAX_BYTES)`))
      done(null, chunk)
    },
  })
  return pipeline(body, cap, () => {})
}

/**
 * The least a remote body must average, over each TIM_DOWNLOAD_TIMEOUT_MS window in which
 * the client takes what it is given: 1 KiB/s (8 kbit/s), below any real link, far above
 * an origin that drips bytes just often enough to beat the idle timeout.
 */
export const MIN_BYTES_PER_SECOND = 1024

/**
 * Cuts a body that makes too little progress: at the end of each `windowMs` window, fewer
 * than MIN_BYTES_PER_SECOND × window bytes fails it (504; the answer has started, so the
 * connection is aborted) — unless the client held the gateway back at some point in that
 * window (the pipe to the response paused, or undelivered bytes waiting): a slow client is
 * not a slow origin. A drip-feeder is cut at the end of its first window in which the client kept up.
 */
function paced (body: Readable, windowMs: number, url: URL): Readable {
  const least = Math.ceil(MIN_BYTES_PER_SECOND * windowMs / 1000)
  let received = 0
  let heldBack = false
  const out = new Transform({
    transform (chunk: Buffer, _enc, done) {
      received += chunk.length
      done(null, chunk)
    },
  })
  const clientBehind = () => out.readableFlowing === false || out.readableLength >= out.readableHighWaterMark
  out.on('pause', () => { heldBack = true })
  const timer = setInterval(() => {
    if (!heldBack && !clientBehind() && received < least) {
      out.destroy(Errors.upstreamTimeout(`${url.host} sent ${received} bytes in ${windowMs} ms, less than ${MIN_BYTES_PER_SECOND} bytes/s (TIM_DOWNLOAD_TIMEOUT_MS)`))
    }
    received = 0
    heldBack = clientBehind()
  }, windowMs)
  timer.unref()
  out.once('close', () => clearInterval(timer))
  return pipeline(body, out, () => {})
}

export class RemoteFetcher {
  /** `windowMs`: TIM_DOWNLOAD_TIMEOUT_MS, the window of the minimum rate (see paced). */
  constructor (readonly dispatcher: Dispatcher, readonly guard: TargetGuard, readonly maxBytes: number, readonly windowMs: number) {}

  async open (raw: string, req: RemoteRequest): Promise<RemoteResponse> {
    const headers: Record<string, string> = { 'user-agent': 'timgate', accept: '*/*', 'accept-encoding': 'identity' }
    if (req.range !== undefined) {
      headers.range = rangeHeader(req.range)
      if (req.ifRange !== undefined) headers['if-range'] = req.ifRange
    }
    if (req.ifNoneMatch !== undefined) headers['if-none-match'] = req.ifNoneMatch
    let url = this.guard.check(raw)
    for (let hop = 0; ; hop++) {
      let res: Dispatcher.ResponseData
      try {
        res = await this.dispatcher.request({ origin: url.origin, path: url.pathname + url.search, method: 'GET', headers, signal: req.signal, highWaterMark: BODY_BUFFER })
      } catch (err) {
        throw translate(err, url)
      }
      const { statusCode: status } = res
      if (status === 200 || (status === 206 && req.range !== undefined)) return this.#answer(res, url)
      drop(res.body)
      if (REDIRECTS.has(status)) {
        const location = one(res.headers, 'location')
        if (location === undefined) throw Errors.upstreamFailed(`${url.host} answered ${status} without a Location`)
        if (hop === MAX_REDIRECTS) throw Errors.upstreamFailed(`more than ${MAX_REDIRECTS} redirects`)
        url = this.guard.check(location, url)
        continue
      }
      if (status === 304 && req.ifNoneMatch !== undefined) {
        const etag = valid(one(res.headers, 'etag'), ETAG)
        return { status: 304, contentType: 'application/octet-stream', ...(etag !== undefined && { etag }) }
      }
      if (status === 416 && req.range !== undefined) {
        const contentRange = valid(one(res.headers, 'content-range'), CONTENT_RANGE)
        return { status: 416, contentType: 'application/octet-stream', ...(contentRange !== undefined && { contentRange }) }
      }
      throw Errors.upstreamFailed(status >= 400 ? `${url.host} answered ${status}` : `${url.host} answered an unexpected ${status}`)
    }
  }

  /** A 200 or 206 as the gateway passes it on: checked headers, the body under the size cap. */
  #answer (res: Dispatcher.ResponseData, url: URL): RemoteResponse {
    const lengthText = one(res.headers, 'content-length')
    const contentLength = lengthText !== undefined && /^\d{1,15}$/.test(lengthText) ? Number(lengthText) : undefined
    if (contentLength !== undefined && contentLength > this.maxBytes) {
      drop(res.body)
      throw Errors.upstreamFailed(`${url.host} would send ${contentLength} bytes, over TIM_MEDIA_MAX_BYTES (${this.maxBytes})`)
    }
    const contentRange = valid(one(res.headers, 'content-range'), CONTENT_RANGE)
    if (res.statusCode === 206 && contentRange === undefined) {
      drop(res.body)
      throw Errors.upstreamFailed(`${url.host} answered 206 without a usable Content-Range`)
    }
    const etag = valid(one(res.headers, 'etag'), ETAG)
    const encoding = one(res.headers, 'content-encoding')?.trim().toLowerCase()
    return {
      status: res.statusCode as 200 | 206,
      contentType: valid(one(res.headers, 'content-type')?.trim(), MEDIA_TYPE) ?? 'application/octet-stream',
      ...(contentLength !== undefined && { contentLength }),
      ...(contentRange !== undefined && { contentRange }),
      ...(etag !== undefined && { etag }),
      // Asked for identity; a server that encodes anyway sends bytes a client must decode.
      ...(encoding !== undefined && encoding !== 'identity' && /^[\w-]+(?:, *[\w-]+)*$/.test(encoding) && { contentEncoding: encoding }),
      // A known length cannot be exceeded (undici ends the body there); an unknown one is counted.
      body: paced(contentLength !== undefined ? res.body : capped(res.body, this.maxBytes, url), this.windowMs, url),
    }
  }
}
