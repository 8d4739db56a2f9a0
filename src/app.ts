import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv, type Options as AjvOptions } from 'ajv'
import { randomUUID } from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import pino from 'pino'
import type { Config } from './config.js'
import { catalogue, Errors, TimError } from './errors.js'
import identity from './auth/identity.js'
import metrics from './plugins/metrics.js'
import store from './plugins/store.js'
import idempotency from './plugins/idempotency.js'
import rateLimit from './plugins/rate-limit.js'
import downloadLimits from './plugins/download-limits.js'
import bodyTimeout, { answerClientError } from './plugins/request-timeouts.js'
import drain from './plugins/drain.js'
import upstream from './media/upstream.js'
import type { Dispatcher } from 'undici'
import messageRoutes from '../routes/messages.js'
import batchRoutes from '../routes/batch.js'
import groupRoutes from '../routes/groups.js'
import systemRoutes from '../routes/system.js'
import mediaRoutes from '../routes/media.js'
import downloadRoutes from '../routes/downloads.js'

export interface BuildOptions {
  config: Config
  /** Where pino writes (tests capture logs with it); stdout by default. */
  logStream?: NodeJS.WritableStream
  /** Unix seconds now, for tests of time rules (UserSig expiry included). */
  now?: () => number
  /** Milliseconds now, for tests of the rate limit. */
  nowMs?: () => number
  /** The undici dispatcher of remote downloads instead of the gateway's own guarded Agent (tests). */
  dispatcher?: Dispatcher
}

/** JSON bodies over this are refused with 413 (CONTRACT §7). */
export const BODY_LIMIT = 1024 * 1024

const REQUEST_ID = /^[\w.:@-]{1,128}$/
const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' } as const

const ajvBase: AjvOptions = { useDefaults: true, removeAdditional: true, allErrors: false, strict: false }
/** Bodies are not coerced ("20" is not a count); query strings and params are parsed as their types. */
const ajv = {
  body: new Ajv({ ...ajvBase, coerceTypes: false }),
  other: new Ajv({ ...ajvBase, coerceTypes: 'array' }),
}

const apiDescription = `The message interfaces of the Tencent Cloud IM C SDK (TIMMsg*) over HTTP, with the SDK's own JSON.

Authenticate with \`Authorization: Bearer <UserSig>\` (TLSSigAPIv2, signed with the gateway's SDKAppID and key). The admin identifier may act for a user with \`X-TIM-On-Behalf-Of\`.

Errors are \`{code, desc}\` with a TIM error code:

| code | HTTP | when |
|---|---|---|
${catalogue.map(e => `| ${e.code} | ${e.status} | ${e.when} |`).join('\n')}
`

/** "body/message_elem_array/0/text_elem_content" → "message_elem_array[0].text_elem_content" */
function keyPath (instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(p => p !== '')
  if (extra !== undefined) parts.push(extra)
  return parts.reduce((acc, p) => /^\d+$/.test(p) ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`, '')
}

function validationDesc (err: FastifyError): string {
  const first = err.validation?.[0]
  const part = err.validationContext ?? 'body'
  if (first === undefined) return `invalid ${part}`
  const missing = (first.params as { missingProperty?: string }).missingProperty
  if (first.keyword === 'required' && missing !== undefined) {
    return `${part === 'body' ? '' : `${part} `}${keyPath(first.instancePath, missing)} is required`
  }
  const path = keyPath(first.instancePath)
  return `${path === '' ? part : `${part === 'body' ? '' : `${part} `}${path}`} ${first.message ?? 'is invalid'}`
}

/** openapi-typescript and most generators ignore if/then: the document shows Elem as oneOf its types. */
function elemsAsOneOf (node: unknown): void {
  if (typeof node !== 'object' || node === null) return
  const o = node as Record<string, unknown>
  if (o.title === 'Elem' && Array.isArray(o.allOf)) {
    o.oneOf = (o.allOf as Array<{ then: unknown }>).map(c => c.then)
    delete o.allOf
  }
  Object.values(o).forEach(elemsAsOneOf)
}

/** Any error as the catalogue's TimError: ours as they are, Fastify's by their meaning, the rest 500. */
function toTimError (err: FastifyError, bodyLimit: number, contentType: string | undefined): TimError {
  if (err instanceof TimError) return err
  if (err.validation !== undefined) return Errors.invalidParameter(validationDesc(err))
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return Errors.bodyTooLarge(bodyLimit)
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return Errors.unsupportedMediaType(contentType ?? 'none')
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new TimError(6017, err.statusCode, err.message, { cause: err })
  }
  return new TimError(Errors.internal().code, 500, Errors.internal().message, { cause: err })
}

/**
 * The whole gateway as a Fastify instance, not listening: every option, the plugins in
 * order, the routes and the one error handler. No side effects beyond opening the store.
 */
export async function buildApp ({ config, logStream, now, nowMs, dispatcher }: BuildOptions): Promise<FastifyInstance> {
  const logger: FastifyServerOptions['logger'] = {
    level: config.logLevel,
    serializers: {
      // What a request line carries: never its headers (the UserSig) nor its body. No
      // pino redaction either: it cost half as much again as the rest of the logging per
      // request, to guard paths that nothing logs (test/server.test.ts reads the logs).
      req: (req: { method: string, url: string, headers: Record<string, string | string[] | undefined>, ip?: string }) =>
        ({ method: req.method, url: req.url, remoteAddress: req.ip, userAgent: req.headers['user-agent'] }),
    },
    // Synchronous writes to stdout by default: pino's asynchronous default buffers every
    // line that the output (a file, a pipe to a log shipper) has not taken yet, and under
    // sustained load that buffer grew without bound (100+ MB in 90 s, then out of memory).
    stream: logStream ?? pino.destination({ dest: 1, sync: true }),
  }
  const app = Fastify({
    logger,
    bodyLimit: BODY_LIMIT,
    // A client must finish sending its request (headers and body) within 5 minutes:
    // enough for the largest upload on a slow link, not for a connection held open forever.
    requestTimeout: 300_000,
    // Headers must arrive within TIM_BODY_TIMEOUT_MS, and JSON bodies after them too (plugins/request-timeouts.ts);
    // Node checks the headers of open connections every connectionsCheckingInterval.
    http: { headersTimeout: config.bodyTimeoutMs, connectionsCheckingInterval: Math.min(30_000, Math.max(100, config.bodyTimeoutMs)) },
    clientErrorHandler: answerClientError,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    // Closing is answered by the hook below, in the catalogue's {code, desc}.
    return503OnClosing: false,
    // Errors raised before routing (a bad URL encoding, say) get the same {code, desc}.
    frameworkErrors: (err, request, reply) => {
      const e = toTimError(err, BODY_LIMIT, request.headers['content-type'])
      void (reply as FastifyReply).status(e.statusCode).send({ code: e.code, desc: e.message })
    },
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>()

  // Hooks on every request take `done` rather than being async: no promise per request.
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done()
    reply.header('connection', 'close')
    done(Errors.unavailable())
  })

  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv.body : ajv.other).compile(schema))

  app.removeAllContentTypeParsers()
  const parseJson = (_req: unknown, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const buf = body as Buffer
    if (buf.length === 0) return done(null, undefined)
    if (!isUtf8(buf)) return done(Errors.invalidParameter('the body is not valid UTF-8'))
    try {
      done(null, sjson.parse(buf.toString('utf8'), undefined, { protoAction: 'remove', constructorAction: 'remove' }))
    } catch (err) {
      done(Errors.invalidJson((err as Error).message))
    }
  }
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson)
  app.addContentTypeParser(/^application\/[\w.+-]*\+json$/, { parseAs: 'buffer' }, parseJson)

  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id).headers(SECURITY_HEADERS)
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    done(null, payload)
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const e = toTimError(err, request.routeOptions.bodyLimit ?? BODY_LIMIT, request.headers['content-type'])
    // A failure caused by the client leaving (an aborted download) is not the server's.
    if (reply.raw.destroyed) request.log.info({ err }, 'request ended: the client went away')
    else if (e.statusCode >= 500) request.log.error({ err }, 'request failed')
    return reply.status(e.statusCode).send({ code: e.code, desc: e.message })
  })
  app.setNotFoundHandler((request, reply) => {
    const e = Errors.routeNotFound(request.method, request.url.split('?')[0] ?? '')
    return reply.status(e.statusCode).send({ code: e.code, desc: e.message })
  })

  await app.register(swagger, {
    transformObject: (documentObject) => {
      const doc = structuredClone('openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject)
      elemsAsOneOf(doc)
      return doc
    },
    openapi: {
      openapi: '3.1.0',
      info: { title: 'timgate', version: '0.1.0', description: apiDescription },
      tags: [
        { name: 'messages', description: 'The TIMMsg* interfaces' },
        { name: 'groups', description: 'Minimal group management: membership makes group conversations real' },
        { name: 'media', description: 'Uploads for media elements, and downloads of element content (TIMMsgDownloadElemToPath)' },
        { name: 'system', description: 'Health, metrics and this document' },
      ],
      components: {
        securitySchemes: {
          UserSig: { type: 'http', scheme: 'bearer', description: 'A TLSSigAPIv2 UserSig (`npm run usersig -- <userID>`)' },
        },
      },
      security: [{ UserSig: [] }],
    },
  })
  // The reference page is public, like /openapi.json.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true }
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } })
  await app.register(metrics)
  await app.register(identity, { sdkAppId: config.sdkAppId, secretKey: config.secretKey, adminIdentifier: config.adminIdentifier, ...(now !== undefined && { now }) })
  await app.register(rateLimit, { perSecond: config.rateLimit, adminIdentifier: config.adminIdentifier, ...(nowMs !== undefined && { now: nowMs }) })
  await app.register(downloadLimits, {
    perSecond: config.downloadRateLimit,
    concurrency: config.downloadConcurrency,
    adminIdentifier: config.adminIdentifier,
    ...(nowMs !== undefined && { now: nowMs }),
  })
  await app.register(bodyTimeout, { timeoutMs: config.bodyTimeoutMs })
  await app.register(drain)
  await app.register(store, {
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    pgPoolSize: config.pgPoolSize,
    sqliteSync: config.sqliteSync,
    revokeWindowS: config.revokeWindowS,
    mediaMaxBytes: config.mediaMaxBytes,
    onStored: (n: number) => app.metrics.messagesStored(n),
    ...(now !== undefined && { now }),
  })
  await app.register(idempotency)
  await app.register(upstream, {
    allowedHosts: config.downloadAllowedHosts,
    timeoutMs: config.downloadTimeoutMs,
    maxBytes: config.mediaMaxBytes,
    ...(dispatcher !== undefined && { dispatcher }),
  })
  await app.register(systemRoutes)
  await app.register(messageRoutes)
  await app.register(batchRoutes)
  await app.register(groupRoutes)
  await app.register(mediaRoutes)
  await app.register(downloadRoutes)
  return app
}
