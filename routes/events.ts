import { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { FastifyBaseLogger } from 'fastify'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { EventStream, STREAM_HEADERS, streamHead, streamingSockets } from '../src/events/stream.js'
import { STREAMS_PER_IDENTITY } from '../src/events/hub.js'
import { Errors } from '../src/errors.js'
import { errors } from './responses.js'

/**
 * Logs the stream's end. Made outside the handler: a closure made in it would keep the
 * handler's whole scope (Fastify's request and reply with it) for the stream's life.
 */
function logWhenClosed (socket: Socket, log: FastifyBaseLogger, startedAt: number): void {
  socket.on('close', () => log.info({ responseTime: performance.now() - startedAt }, 'event stream closed'))
}

/** GET /events: the caller's events as Server-Sent Events (CONTRACT §8). */
const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/events', {
    schema: {
      tags: ['events'],
      operationId: 'streamEvents',
      summary: 'The caller\'s events, as Server-Sent Events (TIMRecvNewMsgCallback, TIMMsgRevokeCallback, TIMMsgReadedReceiptCallback)',
      description: 'Each event is `id: <event_id>`, `event: <event_type>`, `data: <envelope JSON>`: message, revoke, read_receipt. ' +
        'A `Last-Event-ID` header (or `?after=`) replays every event after it, then goes live with no gap and no repeat; neither: live from now. ' +
        'Resuming before the oldest kept event (TIM_EVENTS_RETENTION_S) starts with `event: reset`. The admin as itself gets the app stream: every event once. ' +
        'A comment line (`: ping`) every 15 s; the stream ends when the UserSig expires; a reader too slow is cut and resumes. At most 10 streams per identity (429 9507).',
      querystring: Type.Object({
        after: Type.Optional(Type.String({ maxLength: 32, description: 'resume after this event_id (as Last-Event-ID)' })),
      }),
      headers: Type.Object({
        'last-event-id': Type.Optional(Type.String({ maxLength: 32, description: 'resume after this event_id' })),
      }),
      response: {
        200: {
          description: 'the events, as they come',
          content: { 'text/event-stream': { schema: Type.String({ description: 'Server-Sent Events: `id:`, `event:`, `data:` per event, the data an EventEnvelope (#/components/schemas/EventEnvelope) as JSON; `: ping` comments' }) } },
        },
        ...errors(400, 401, 403),
      },
    },
  }, async (request, reply) => {
    const who = request.identity
    const appStream = who.isAdmin && who.actAs === who.caller
    const streamProcess = app.streamProcess
    if (app.hub.streamsOf(who.actAs) + (streamProcess?.streamsOf(who.actAs) ?? 0) >= STREAMS_PER_IDENTITY) {
      reply.header('retry-after', '1')
      throw Errors.tooManyStreams(STREAMS_PER_IDENTITY)
    }
    // A HEAD request gets the head alone (Fastify answers it from this handler too).
    if (request.method === 'HEAD') return reply.headers(STREAM_HEADERS).send('')
    // The stream writes its head and frames on the connection itself, past Fastify's reply
    // and Node's response (which stays the connection's current message, unused): an idle
    // stream then costs the connection and little else. 10,000 idle streams: +87–100 MB RSS;
    // +101–110 through the response, +168 through a PassThrough. The body ends with the
    // connection. onSend hooks do not run for it: the headers of
    // src/plugins/response-headers.ts are in HEAD.
    const socket = reply.raw.socket
    // Pipelined behind another request on its connection, it would wait behind that answer
    // (and a stream's never ends): refused, not streamed into another response's body.
    if (socket === null) throw Errors.invalidParameter('GET /events must be the only request in flight on its connection')
    const user = appStream ? undefined : who.actAs
    const expiresAt = who.expiresAt ?? Number.MAX_SAFE_INTEGER
    const after = request.headers['last-event-id'] ?? request.query.after
    // Served by the stream process when it runs (a connection of this server's: not one of inject()'s).
    if (streamProcess?.ready === true && socket instanceof Socket) {
      reply.hijack()
      app.metrics.request('GET', '/events', 200, reply.elapsedTime / 1000)
      streamProcess.hand(socket, { user, owner: who.actAs, expiresAt, after, requestId: request.id })
      return reply
    }
    const stream = new EventStream(socket, user, who.actAs, expiresAt, 0)
    // The head goes as soon as the stream's starting point is fixed, with a comment as the first bytes.
    const head = () => {
      reply.hijack()
      streamingSockets.add(socket)
      // Fastify's onResponse hooks never run for it: counted as answered when its head goes, logged when it ends.
      app.metrics.request('GET', '/events', 200, reply.elapsedTime / 1000)
      logWhenClosed(socket, request.log, performance.now() - reply.elapsedTime)
      socket.write(streamHead(request.id))
      // Node's response stays the connection's current message (a request pipelined after
      // the stream waits behind it, unanswered), but it never finishes: its 'finish' and
      // 'error' listeners, Fastify's among them, would only keep Fastify's reply and request
      // for the stream's life.
      reply.raw.removeAllListeners('finish').removeAllListeners('error')
    }
    try {
      await app.hub.attach(stream, after, head)
    } catch (err) {
      // Nothing sent yet (the log could not be read): answered as any other error.
      if (!stream.opened) throw err
      // The answer has begun: the client sees the stream end, and resumes.
      request.log.warn({ err }, 'an event stream could not catch up')
      stream.cut()
    }
    return reply
  })
}

export default eventRoutes
