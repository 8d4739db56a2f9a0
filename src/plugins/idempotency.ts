import fp from 'fastify-plugin'
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import { JsonPieces } from '../slices.js'
import type { KeyRef } from '../../db/store.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A writing POST: honours Idempotency-Key. */
    idempotent?: boolean
  }
  interface FastifyRequest {
    /** The Idempotency-Key this request holds, to be completed with its response. */
    idempotencyClaim?: KeyRef
  }
}

const KEY = /^[\x21-\x7e]{1,255}$/

/** The text of a response to record: JSON as a string, or a large JSON array sent in pieces; nothing else is replayed. */
const recordable = (payload: unknown): string =>
  typeof payload === 'string' ? payload : payload instanceof JsonPieces ? payload.bytes().toString('utf8') : ''
/** How long a replay waits for the first request with its key to finish. */
const PENDING_WAIT_MS = 10_000
/** How often keys older than 24 hours are swept. */
const SWEEP_MS = 5 * 60_000

/**
 * Idempotency-Key on writing POSTs (CONTRACT §7). The key is claimed in the database
 * before the body is validated, so racing replays cannot both write; the first response
 * (any status below 500) is recorded and replayed for 24 hours; a 5xx frees the key.
 */
export default fp(async (app) => {
  /** Claims the key, or answers the request from what the key recorded (then true). */
  const claimOrReplay = async (request: FastifyRequest, reply: FastifyReply, key: unknown): Promise<boolean> => {
    if (typeof key !== 'string' || !KEY.test(key)) throw Errors.invalidParameter('Idempotency-Key must be 1-255 printable ASCII characters')
    const { caller, actAs } = request.identity
    const owner = `${caller}\n${actAs}`
    const hash = createHash('sha256').update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? {})}`).digest('hex')
    const deadline = Date.now() + PENDING_WAIT_MS
    for (;;) {
      const claim = await app.idempotency.claim({ owner, key }, hash)
      if (claim.state === 'claimed') {
        request.idempotencyClaim = { owner, key }
        return false
      }
      if (claim.state === 'mismatch') throw Errors.idempotencyMismatch()
      if (claim.state === 'done') {
        reply.header('idempotent-replayed', 'true').status(claim.status)
        if (claim.body === '') reply.send()
        else reply.type('application/json; charset=utf-8').send(claim.body)
        return true
      }
      if (Date.now() > deadline) throw Errors.idempotencyPending()
      await sleep(20)
    }
  }

  // preValidation, not preHandler: a body the schema refuses is a first response too.
  // Callback hooks: a request without the header costs no promise.
  app.addHook('preValidation', (request, reply, done) => {
    const key = request.headers['idempotency-key']
    if (key === undefined || request.routeOptions.config.idempotent !== true) return done()
    claimOrReplay(request, reply, key).then(replayed => { if (!replayed) done() }, done)
  })

  app.addHook('onSend', (request, reply, payload, done) => {
    const claim = request.idempotencyClaim
    if (claim === undefined) return done(null, payload)
    request.idempotencyClaim = undefined
    const recorded = reply.statusCode >= 500
      ? app.idempotency.release(claim)
      : app.idempotency.complete(claim, reply.statusCode, recordable(payload))
    recorded.then(() => done(null, payload), done)
  })

  const sweep = setInterval(() => {
    app.idempotency.sweep().catch((err: unknown) => app.log.warn({ err }, 'sweeping expired Idempotency-Keys failed'))
  }, SWEEP_MS)
  sweep.unref()
  app.addHook('onClose', async () => clearInterval(sweep))
}, { name: 'timgate-idempotency', dependencies: ['timgate-services', 'timgate-identity'] })
