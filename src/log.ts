import type { FastifyReply, FastifyServerOptions } from 'fastify'
import pino from 'pino'
import pretty from 'pino-pretty'
import { answeredError } from './plugins/errors.js'

export type LogFormat = 'json' | 'pretty'

/**
 * The app's pino options at `level`. Lines go to `stream` (tests capture logs with it), by
 * default to stdout with synchronous writes: pino's asynchronous default buffers every line
 * that the output (a file, a pipe to a log shipper) has not taken yet, and under sustained
 * load that buffer grew without bound (100+ MB in 90 s, then out of memory). `pretty`
 * (LOG_FORMAT, or a terminal) prints them for people, through pino-pretty, synchronously too.
 */
export function loggerOptions (level: string, format: LogFormat, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level,
    serializers: {
      // What a request line carries: never its headers (the UserSig) nor its body. No
      // pino redaction either: it cost half as much again as the rest of the logging per
      // request, to guard paths that nothing logs (test/server.test.ts reads the logs).
      req: (req: { method: string, url: string, headers: Record<string, string | string[] | undefined>, ip?: string }) =>
        ({ method: req.method, url: req.url, remoteAddress: req.ip, userAgent: req.headers['user-agent'] }),
      // A response line says who asked and, for an error, the TIM code and desc it answered.
      res: (res: { statusCode: number }) => {
        const reply = res as FastifyReply
        const e = answeredError(reply)
        const caller = (reply.request as { identity?: { caller: string } | null } | undefined)?.identity?.caller
        return {
          statusCode: reply.statusCode,
          ...(caller !== undefined && { caller }),
          ...(e !== undefined && { code: e.code, desc: e.message }),
        }
      },
    },
    stream: stream ?? (format === 'pretty'
      ? pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' })
      : pino.destination({ dest: 1, sync: true })),
  }
}
