import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { EventStream } from '../src/events/stream.js'
import { STREAMS_PER_IDENTITY } from '../src/events/hub.js'
import { SECURITY_HEADERS } from '../src/plugins/response-headers.js'
import { Errors } from '../src/errors.js'
import { errors } from './responses.js'

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
    if (!app.hub.admits(who.actAs)) {
      reply.header('retry-after', '1')
      throw Errors.tooManyStreams(STREAMS_PER_IDENTITY)
    }
    // The response is written by the stream itself, without Fastify's send: an idle stream
    // then costs the connection and little else (10,000 idle streams: +99 MB RSS, not +168).
    // onSend hooks do not run for it: the headers of src/plugins/response-headers.ts are set here.
    const stream = new EventStream(reply.raw, appStream ? undefined : who.actAs, who.actAs, who.expiresAt ?? Number.MAX_SAFE_INTEGER, 0)
    // The head goes as soon as the stream's starting point is fixed, with a comment as the first bytes.
    const head = () => {
      reply.hijack()
      // Not chunked: the body ends with the connection (as a stream does), and each frame is
      // one socket write instead of four (size, CRLF, frame, CRLF) with their bookkeeping.
      reply.raw.useChunkedEncodingByDefault = false
      reply.raw.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      })
      reply.raw.write(': timgate events\n\n')
    }
    const after = request.headers['last-event-id'] ?? request.query.after
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
