import type { FastifyReply, FastifyServerOptions } from 'fastify'
import pino from 'pino'
import pretty from 'pino-pretty'
import { answeredError } from './plugins/errors.js'

export type LogFormat = 'json' | 'pretty'

/** Bytes of JSON lines kept before they are written out together (sonic-boom's minLength). */
export const LOG_BATCH_BYTES = 4096
/** The longest a line waits in that batch when traffic stops. */
export const LOG_FLUSH_MS = 200

let stdout: pino.DestinationStream | undefined

/**
 * The process's one JSON destination on stdout: synchronous writes of batches. Not pino's
 * asynchronous default: it buffers every line that the output (a file, a pipe to a log
 * shipper) has not taken yet, and under sustained load that buffer grew without bound
 * (100+ MB in 90 s, then out of memory). Not one write per line either: two lines per
 * request made that write 15 % of a send's CPU (26.6 µs of 173 µs). Here a line joins a
 * batch of at most LOG_BATCH_BYTES that is written out, synchronously, when it is full or
 * LOG_FLUSH_MS after, and on exit: memory stays bounded and a write carries ~10 lines. A
 * process killed outright (SIGKILL) loses at most that batch.
 */
function stdoutDestination (): pino.DestinationStream {
  if (stdout !== undefined) return stdout
  const dest = pino.destination({ dest: 1, sync: true, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS })
  process.once('exit', () => {
    try {
      dest.flushSync()
    } catch {
      // stdout is gone (a closed pipe): nothing can take the last lines
    }
  })
  stdout = dest
  return dest
}

/**
 * The app's pino options at `level`. Lines go to `stream` (tests capture logs with it), by
 * default as JSON to stdout (stdoutDestination). `pretty` (LOG_FORMAT, or a terminal)
 * prints them for people, through pino-pretty, one synchronous write per line.
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
      : stdoutDestination()),
  }
}

/** A logger outside Fastify (the event stream process): the app's level, format and destination. */
export function processLogger (level: string, format: LogFormat): pino.Logger {
  const options = loggerOptions(level, format) as pino.LoggerOptions & { stream: pino.DestinationStream }
  return pino(options, options.stream)
}
