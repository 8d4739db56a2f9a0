// proxy: the barest pass-through proxy: node:http, undici.request() to the origin
// (BENCH_ORIGIN) for the same path, the body piped through.
import { createServer } from 'node:http'
import process from 'node:process'
import { ready } from './shared.mjs'

export async function start () {
  const { request } = await import('undici')
  const upstream = process.env.BENCH_ORIGIN
  const server = createServer(async (req, res) => {
    if (req.url === '/health') {
      res.end('ok')
      return
    }
    try {
      const up = await request(`${upstream}${req.url}`)
      res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'], 'content-length': up.headers['content-length'] })
      up.body.pipe(res)
    } catch {
      res.writeHead(502)
      res.end()
    }
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => ready(server.address().port, () => new Promise(resolve => server.close(resolve))))
}
