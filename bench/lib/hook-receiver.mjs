// The webhook scenario's receiver, in a process of its own: the driver's event loop then
// measures the sends without also serving the deliveries (5,500 a second at 40 %). Counts
// deliveries (distinct webhook-ids) and before-send calls; answers at once. Tells its port,
// and its counts when asked ('counts'), over IPC.
import { createServer } from 'node:http'
import process from 'node:process'

const seen = new Set()
let calls = 0
const server = createServer((req, res) => {
  req.resume().on('end', () => {
    if (req.url === '/before-send') {
      calls++
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      return
    }
    seen.add(req.headers['webhook-id'])
    res.writeHead(204).end()
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
process.on('message', (m) => {
  if (m === 'counts') process.send({ delivered: seen.size, calls })
})
process.on('disconnect', () => process.exit(0))
