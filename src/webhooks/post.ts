import { EventEmitter } from 'node:events'
import type { Dispatcher } from 'undici'
import type { TargetGuard } from '../media/targets.js'
import { signedHeaders } from './signing.js'

export type PostResult =
  | { kind: 'ok', status: number, body: string | undefined }
  | { kind: 'failed' | 'timeout', error: string }

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

const isTimeout = (err: unknown): boolean => {
  const e = err as { name?: string, code?: string, cause?: unknown }
  return e.name === 'TimeoutError' || TIMEOUT_CODES.has(e.code ?? '') || (e.cause !== undefined && e.cause !== err && isTimeout(e.cause))
}

const reason = (err: unknown): string => {
  const e = err as { message?: string, code?: string, cause?: { message?: string } }
  const message = e.message ?? String(err)
  return `${e.code === undefined ? '' : `${e.code}: `}${message}${e.cause?.message === undefined ? '' : ` (${e.cause.message})`}`.slice(0, 500)
}

/**
 * The whole attempt's deadline: an emitter undici takes as its abort signal, and a timer
 * cleared when the attempt ends (AbortSignal.timeout cost ~8 µs a call, and fired for
 * every request two seconds later: a DOMException and an abort event each).
 */
class Deadline extends EventEmitter {
  aborted = false
  readonly #timer: NodeJS.Timeout

  constructor (ms: number) {
    super()
    this.#timer = setTimeout(() => {
      this.aborted = true
      this.emit('abort')
    }, ms)
  }

  clear (): void {
    clearTimeout(this.#timer)
  }
}

/** Drops a body unread; its abort error has a listener (undici emits one for a body destroyed unfinished). */
const drop = (body: Dispatcher.ResponseData['body']): undefined => void body.on('error', () => {}).destroy()

/** A body of at most `limit` bytes as text; undefined when it is longer. */
async function readUpTo (body: Dispatcher.ResponseData['body'], length: string | string[] | undefined, limit: number): Promise<string | undefined> {
  // A stated length within the limit is read in one go.
  if (typeof length === 'string' && /^\d+$/.test(length)) return Number(length) > limit ? drop(body) : body.text()
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of body) {
    bytes += (chunk as Buffer).byteLength
    if (bytes > limit) return drop(body)
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, bytes).toString('utf8')
}

/**
 * One signed POST of `body` to `url`, whose URL passes the guard again (the connect-time
 * lookup of the dispatcher judges the address), all within `timeoutMs`. A 2xx is ok;
 * `readLimit` bytes of its body are read (the before-send answer), else it is dumped.
 * Never throws.
 */
export async function post (dispatcher: Dispatcher, guard: TargetGuard, url: string, key: Buffer, id: string, body: string,
  timeoutMs: number, readLimit = 0): Promise<PostResult> {
  let target: URL
  try {
    target = guard.check(url)
  } catch (err) {
    return { kind: 'failed', error: (err as Error).message }
  }
  const deadline = new Deadline(timeoutMs)
  try {
    const res = await dispatcher.request({
      origin: target.origin,
      path: `${target.pathname}${target.search}`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'timgate-webhooks',
        ...signedHeaders(key, id, Math.floor(Date.now() / 1000), body),
      },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: deadline,
    })
    const ok = res.statusCode >= 200 && res.statusCode < 300
    if (!ok || readLimit === 0) {
      await res.body.dump()
      return ok ? { kind: 'ok', status: res.statusCode, body: undefined } : { kind: 'failed', error: `answered HTTP ${res.statusCode}` }
    }
    const text = await readUpTo(res.body, res.headers['content-length'], readLimit)
    if (text === undefined) return { kind: 'failed', error: `answered more than ${readLimit} bytes` }
    return { kind: 'ok', status: res.statusCode, body: text }
  } catch (err) {
    return deadline.aborted || isTimeout(err) ? { kind: 'timeout', error: `no answer within ${timeoutMs} ms` } : { kind: 'failed', error: reason(err) }
  } finally {
    deadline.clear()
  }
}
