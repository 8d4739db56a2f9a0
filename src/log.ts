import type { FastifyServerOptions } from 'fastify'
import pino from 'pino'

/**
 * The app's pino options at `level`, writing to `stream` (tests capture logs with it), by
 * default to stdout with synchronous writes: pino's asynchronous default buffers every
 * line that the output (a file, a pipe to a log shipper) has not taken yet, and under
 * sustained load that buffer grew without bound (100+ MB in 90 s, then out of memory).
 */
export function loggerOptions (level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level,
    serializers: {
      // What a request line carries: never its headers (the UserSig) nor its body. No
      // pino redaction either: it cost half as much again as the rest of the logging per
      // request, to guard paths that nothing logs (test/server.test.ts reads the logs).
      req: (req: { method: string, url: string, headers: Record<string, string | string[] | undefined>, ip?: string }) =>
        ({ method: req.method, url: req.url, remoteAddress: req.ip, userAgent: req.headers['user-agent'] }),
    },
    stream: stream ?? pino.destination({ dest: 1, sync: true }),
  }
}
