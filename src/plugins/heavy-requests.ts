import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, onRequestHookHandler, onSendHookHandler } from 'fastify'
import type { Socket } from 'node:net'
import { Errors } from '../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Carries up to 16 MiB (import, batch send): admitted only while the gateway can take it on. */
    heavy?: boolean
  }
}

export interface HeavyRequestOptions {
  /** TIM_HEAVY_CONCURRENCY: heavy requests in progress in all; 0 turns admission off. */
  concurrency: number
}

/**
 * Heavy requests (CONTRACT §12) are admitted one at a time per identity (the UserSig's
 * identifier, the admin's too) and `concurrency` at a time in all. Beyond that they are
 * refused at once, on their headers, before a byte of the body is read: 429 9506 with
 * Retry-After and the connection closed, never queued. A slot is held from the request's arrival until its response
 * closes (finished, failed or the client gone). What a heavy request does is sliced so
 * that admitted ones share the event loop with everyone else (src/slices.ts).
 */
export default fp<HeavyRequestOptions>(async (app, opts) => {
  const callers = new Set<string>()
  let inProgress = 0

  const admit: onRequestHookHandler = (request, reply, done) => {
    const { caller } = request.identity
    const busy = callers.has(caller) || inProgress >= opts.concurrency
    if (busy) {
      // The connection closes after the answer: reading a 16 MiB body only to drop it
      // would cost the event loop what the refusal saves (RFC 9112 §9.6).
      reply.header('retry-after', '1').header('connection', 'close')
      return done(Errors.heavyBusy(callers.has(caller)))
    }
    // A response closed already (the client left before this hook) would never release.
    if (reply.raw.destroyed) return done()
    callers.add(caller)
    inProgress++
    onceEnded(request, reply, () => {
      callers.delete(caller)
      inProgress--
    })
    done()
  }
  const turns = workTurns(HEAVY_WORKED_AT_ONCE, (working, waiting) => app.metrics.heavyTurns(working, waiting))
  // 0 turns admission off, the one-per-identity rule with it (as TIM_RATE_LIMIT=0 does);
  // the turns stay. Hooks of the heavy routes alone, after the app's (identity first):
  // other routes pay nothing.
  const hooks = opts.concurrency === 0 ? [turns.enter] : [admit, turns.enter]
  app.addHook('onRoute', (route) => {
    if (route.config?.heavy !== true) return
    route.onRequest = [route.onRequest ?? []].flat().concat(hooks)
    route.onSend = [route.onSend ?? []].flat().concat(turns.answered)
  })
}, { name: 'timgate-heavy-requests', dependencies: ['timgate-identity', 'timgate-metrics'] })

/**
 * Calls `fn` once, when the request is over: its response closed, or its connection
 * gone (a pipelined request's response has no socket until the one before it ends, and
 * never closes if the connection dies first). Answers a function that ends it sooner.
 */
function onceEnded (request: FastifyRequest, reply: FastifyReply, fn: () => void): () => void {
  const socket = request.raw.socket as Socket | null | undefined
  let ended = false
  const end = () => {
    if (ended) return
    ended = true
    // A kept-alive connection carries many requests: none leaves a listener on it.
    reply.raw.off('close', end)
    socket?.off('close', end)
    fn()
  }
  reply.raw.once('close', end)
  socket?.once('close', end)
  return end
}

/**
 * Heavy requests worked on at once, whatever TIM_HEAVY_CONCURRENCY admits (with admission
 * off, every one is admitted). An import of 1000 holds ~5,000 objects from its parse to its
 * answer, and the collector copies every live one at each scavenge: with ten imports in
 * flight on PostgreSQL the copying was a quarter of the gateway's time. Four at once keep
 * the event loop busy while others wait on the database.
 */
export const HEAVY_WORKED_AT_ONCE = 4

/**
 * Hooks that let `atOnce` requests through (`enter`, onRequest) and have the rest wait
 * their turn in arrival order, before their body is read (the body timeout starts after
 * it). A turn is held until the answer is made (`answered`, onSend: what is left to write
 * is bytes, and a client that does not read its answer must not hold a turn) or the
 * request is over before that; a request whose client leaves while it waits never takes
 * one. Bounded as admission bounds it: at most TIM_HEAVY_CONCURRENCY minus `atOnce` wait
 * (with admission off, the clients' connections).
 */
function workTurns (atOnce: number, report: (working: number, waiting: number) => void): { enter: onRequestHookHandler, answered: onSendHookHandler } {
  let working = 0
  const waiting: Array<() => void> = []
  const held = new WeakMap<FastifyRequest, () => void>()
  const next = () => {
    working--
    const start = waiting.shift()
    if (start === undefined) report(working, 0)
    else start()
  }
  return {
    enter (request, reply, done) {
      const start = () => {
        // Its client left (while it waited): the turn goes on to the next. The request ends
        // here: its body's end has come and gone unseen, and a reader would wait out the
        // body timeout for it (nobody reads the answer; the log and /metrics do).
        if (reply.raw.destroyed) {
          working++
          next()
          return done(Errors.requestTimeout('the client left while the request waited its turn'))
        }
        working++
        report(working, waiting.length)
        held.set(request, onceEnded(request, reply, next))
        done()
      }
      if (working < atOnce && waiting.length === 0) return start()
      waiting.push(start)
      report(working, waiting.length)
    },
    answered (request, _reply, payload, done) {
      held.get(request)?.()
      done(null, payload)
    },
  }
}