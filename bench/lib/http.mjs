// Requests for a scenario's setup (not for load: that is wrk, or paced()).
import { request } from 'undici'

/** One request; throws unless it answers `expect`; the parsed JSON answer, if any. */
export async function call (server, method, path, body, { expect = 200, headers } = {}) {
  const res = await request(`${server.base}${path}`, { method, headers, body })
  const text = await res.body.text()
  if (res.statusCode !== expect) throw new Error(`${server.name} ${method} ${path}: ${res.statusCode} ${text.slice(0, 500)}`)
  return text === '' ? undefined : JSON.parse(text)
}

/** Runs `fn(x, i)` over `xs` with `n` at a time; the answers in order. */
export async function mapLimit (xs, n, fn) {
  const out = new Array(xs.length)
  let next = 0
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < xs.length) {
      const i = next++
      out[i] = await fn(xs[i], i)
    }
  }))
  return out
}
