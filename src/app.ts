import Fastify, { type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { randomUUID } from 'node:crypto'
import type { Dispatcher } from 'undici'
import { s3Settings, type Config } from './config.js'
import { loggerOptions } from './log.js'
import errors, { BODY_LIMIT, frameworkErrors } from './plugins/errors.js'
import shutdown from './plugins/shutdown.js'
import jsonBody from './plugins/json-body.js'
import responseHeaders from './plugins/response-headers.js'
import openapi from './plugins/openapi.js'
import identity from './auth/identity.js'
import metrics from './plugins/metrics.js'
import store from './plugins/store.js'
import conditions from './plugins/conditions.js'
import heavyRequests from './plugins/heavy-requests.js'
import services from './plugins/services.js'
import idempotency from './plugins/idempotency.js'
import rateLimit from './plugins/rate-limit.js'
import downloadLimits from './plugins/download-limits.js'
import bodyTimeout, { answerClientError } from './plugins/request-timeouts.js'
import upstream from './media/upstream.js'
import messageRoutes from '../routes/messages.js'
import batchRoutes from '../routes/batch.js'
import groupRoutes from '../routes/groups.js'
import systemRoutes from '../routes/system.js'
import mediaRoutes from '../routes/media.js'
import downloadRoutes from '../routes/downloads.js'
import eventRoutes from '../routes/events.js'
import conversationRoutes from '../routes/conversations.js'
import searchRoutes from '../routes/search.js'
import events from './plugins/events.js'
import webhooks from './plugins/webhooks.js'
import webhookRoutes from '../routes/webhooks.js'

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

const REQUEST_ID = /^[\w.:@-]{1,128}$/

/**
 * The whole gateway as a Fastify instance, not listening: every option, the plugins in
 * order, the routes. No side effects beyond opening the store.
 */
export async function buildApp ({ config, logStream, now, nowMs, dispatcher }: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config.logLevel, config.logFormat, logStream),
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
    // Closing is answered by plugins/shutdown.ts, in the catalogue's {code, desc}.
    return503OnClosing: false,
    frameworkErrors,
    forceCloseConnections: 'idle',
  }).withTypeProvider<TypeBoxTypeProvider>()

  const limits = { adminIdentifier: config.adminIdentifier, ...(nowMs !== undefined && { now: nowMs }) }
  // The order of the onRequest hooks: closing, then identity, then the limits.
  await app.register(shutdown)
  await app.register(store, {
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    pgPoolSize: config.pgPoolSize,
    sqliteSync: config.sqliteSync,
    ...(now !== undefined && { now }),
  })
  await app.register(conditions, { dataDir: config.dataDir })
  await app.register(errors)
  await app.register(jsonBody)
  await app.register(responseHeaders)
  await app.register(openapi)
  await app.register(metrics)
  await app.register(identity, { sdkAppId: config.sdkAppId, secretKey: config.secretKey, adminIdentifier: config.adminIdentifier, ...(now !== undefined && { now }) })
  await app.register(rateLimit, { perSecond: config.rateLimit, ...limits })
  await app.register(downloadLimits, { perSecond: config.downloadRateLimit, concurrency: config.downloadConcurrency, ...limits })
  await app.register(heavyRequests, { concurrency: config.heavyConcurrency })
  await app.register(bodyTimeout, { timeoutMs: config.bodyTimeoutMs })
  await app.register(webhooks, {
    allowedHosts: config.webhookAllowedHosts,
    timeoutMs: config.webhookTimeoutMs,
    beforeSendTimeoutMs: config.beforeSendTimeoutMs,
    now: now ?? (() => Math.floor(Date.now() / 1000)),
    ...(nowMs !== undefined && { clock: nowMs }),
  })
  await app.register(services, {
    dataDir: config.dataDir,
    revokeWindowS: config.revokeWindowS,
    mediaMaxBytes: config.mediaMaxBytes,
    secretKey: config.secretKey,
    s3: s3Settings(config),
    onStored: (n: number) => app.metrics.messagesStored(n),
    ...(config.eventsProcess && { streamProcess: { dataDir: config.dataDir, databaseUrl: config.databaseUrl, logLevel: config.logLevel, logFormat: config.logFormat } }),
    ...(now !== undefined && { now }),
  })
  await app.register(idempotency)
  await app.register(events, { retentionS: config.eventsRetentionS, now: now ?? (() => Math.floor(Date.now() / 1000)) })
  await app.register(upstream, {
    allowedHosts: config.downloadAllowedHosts,
    timeoutMs: config.downloadTimeoutMs,
    maxBytes: config.mediaMaxBytes,
    ...(dispatcher !== undefined && { dispatcher }),
  })
  for (const routes of [systemRoutes, messageRoutes, batchRoutes, groupRoutes, mediaRoutes, downloadRoutes, eventRoutes, webhookRoutes, conversationRoutes, searchRoutes]) await app.register(routes)
  return app
}
