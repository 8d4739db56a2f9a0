import fp from 'fastify-plugin'
import type { Socket } from 'node:net'
import { Errors } from '../errors.js'

/**
 * Closing: new requests are answered 503 {code, desc} with `Connection: close`, and the
 * connections drain: a connection with a response in progress stays until that response has
 * closed; every other one is closed at once, or as soon as it has no response in
 * progress. Node's server.close() alone closes only the connections idle at that moment:
 * a keep-alive connection whose response finishes later would stay for keepAliveTimeout,
 * and one that has sent no request yet (clients open spare connections) until
 * headersTimeout, past the process's grace period.
 */
export default fp(async (app) => {
  let draining = false
  // A callback hook, as on every request: no promise per request.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!draining) return done()
    reply.header('connection', 'close')
    done(Errors.unavailable())
  })

  /** Every open connection and the number of its responses in progress. */
  const connections = new Map<Socket, number>()
  const closeIfIdle = (socket: Socket) => {
    // destroySoon: a finished response's last bytes are flushed before the close.
    if (draining && connections.get(socket) === 0) socket.destroySoon()
  }

  app.server.on('connection', (socket: Socket) => {
    connections.set(socket, 0)
    socket.once('close', () => connections.delete(socket))
    closeIfIdle(socket)
  })
  app.server.on('request', (request, response) => {
    const socket = request.socket
    if (!connections.has(socket)) return
    connections.set(socket, connections.get(socket)! + 1)
    response.once('close', () => {
      if (!connections.has(socket)) return
      connections.set(socket, connections.get(socket)! - 1)
      closeIfIdle(socket)
    })
  })
  app.addHook('preClose', async () => {
    draining = true
    for (const socket of connections.keys()) closeIfIdle(socket)
  })
}, { name: 'timgate-shutdown' })
