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
 * One signed POST of `body` to `url`, whose URL passes the guard again (the connect-time
 * lookup of the dispatcher judges the address). A 2xx is ok; `readLimit` bytes of its body
 * are read (the before-send answer), else it is dumped. Never throws.
 */
export async function post (dispatcher: Dispatcher, guard: TargetGuard, url: string, key: Buffer, id: string, body: string,
  timeoutMs: number, readLimit = 0): Promise<PostResult> {
  let target: URL
  try {
    target = guard.check(url)
  } catch (err) {
    return { kind: 'failed', error: (err as Error).message }
  }
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
      signal: AbortSignal.timeout(timeoutMs),
    })
    const ok = res.statusCode >= 200 && res.statusCode < 300
    if (!ok || readLimit === 0) {
      await res.body.dump()
      return ok ? { kind: 'ok', status: res.statusCode, body: undefined } : { kind: 'failed', error: `answered HTTP ${res.statusCode}` }
    }
    let text = ''
    for await (const chunk of res.body) {
      text += (chunk as Buffer).toString('utf8')
      if (text.length > readLimit) {
        res.body.destroy()
        return { kind: 'failed', error: `answered more than ${readLimit} bytes` }
      }
    }
    return { kind: 'ok', status: res.statusCode, body: text }
  } catch (err) {
    return isTimeout(err) ? { kind: 'timeout', error: `no answer within ${timeoutMs} ms` } : { kind: 'failed', error: reason(err) }
  }
}
