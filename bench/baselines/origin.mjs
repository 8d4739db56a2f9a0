// origin: node:http serving BENCH_DOWNLOAD_FILE (Content-Length set) on every path, read in
// chunks of BENCH_ORIGIN_CHUNK bytes (default: the stream's own 64 KiB).
import { createReadStream, statSync } from 'node:fs'
import { createServer } from 'node:http'
import process from 'node:process'
import { ready } from './shared.mjs'

export function start () {
  const file = process.env.BENCH_DOWNLOAD_FILE
  const chunk = process.env.BENCH_ORIGIN_CHUNK === undefined ? undefined : Number(process.env.BENCH_ORIGIN_CHUNK)
  const size = statSync(file).size
  const server = createServer((req, res) => {
    if (req.url === '/health') {
      res.end('ok')
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size, etag: '"bench"' })
    createReadStream(file, { highWaterMark: chunk }).pipe(res)
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => ready(server.address().port, () => new Promise(resolve => server.close(resolve))))
}
