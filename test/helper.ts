import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { buildApp, type BuildOptions } from '../src/app.js'
import { loadConfig, type Config, type Env } from '../src/config.js'
import { signUserSig } from '../src/auth/usersig.js'

/** Every configuration variable (CONTRACT §2 and ours): a child process must not inherit them from the test run. */
export const CONFIG_VARS = ['HOST', 'PORT', 'TIM_DATA_DIR', 'TIM_SDKAPPID', 'TIM_SECRET_KEY', 'TIM_ADMIN_IDENTIFIER',
  'TIM_REVOKE_WINDOW_S', 'DATABASE_URL', 'TIM_DOWNLOAD_ALLOWED_HOSTS', 'TIM_DOWNLOAD_TIMEOUT_MS',
  'TIM_WEBHOOK_ALLOWED_HOSTS', 'TIM_WEBHOOK_TIMEOUT_MS', 'TIM_BEFORE_SEND_TIMEOUT_MS',
  'TIM_MEDIA_MAX_BYTES', 'TIM_RATE_LIMIT', 'TIM_DOWNLOAD_RATE_LIMIT', 'TIM_DOWNLOAD_CONCURRENCY', 'TIM_HEAVY_CONCURRENCY', 'TIM_EVENTS_PROCESS', 'TIM_EVENTS_RETENTION_S', 'TIM_BODY_TIMEOUT_MS',
  'TIM_PG_POOL_SIZE', 'TIM_SQLITE_SYNC', 'TIM_S3_BUCKET', 'TIM_S3_ENDPOINT', 'TIM_S3_REGION', 'TIM_S3_FORCE_PATH_STYLE',
  'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'LOG_LEVEL', 'LOG_FORMAT']

/** The bits of a tap test that the helpers need. */
export interface TestContext { teardown (fn: () => unknown): void }

export interface TestApp {
  app: FastifyInstance
  config: Config
  /** A fresh UserSig of `user` for this app, signed at the app's clock (BuildOptions.now, else the real one). */
  sig (user: string, expire?: number): string
  /** Headers that authenticate as `user` (and, for the admin, act for `onBehalfOf`). */
  as (user: string, onBehalfOf?: string): Record<string, string>
  /** app.inject with JSON in and out. */
  call (user: string, method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

/** A port that was free a moment ago. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** A fresh temporary data directory, removed after the test. */
export function tempDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'timgate-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * A fresh schema of the PostgreSQL database at `base`, as a DATABASE_URL (`?schema=`: the
 * store creates it); dropped after the test.
 */
export function freshSchema (t: TestContext, base: string): string {
  const schema = `t_${randomBytes(8).toString('hex')}`
  t.teardown(async () => {
    const client = new pg.Client({ connectionString: base })
    await client.connect()
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    } finally {
      await client.end()
    }
  })
  const url = new URL(base)
  url.searchParams.set('schema', schema)
  return url.toString()
}

/**
 * The DATABASE_URL of the suite's store: with TIMGATE_TEST_PG set (a postgres:// URL), a
 * fresh schema of that database (dropped after the test); else undefined, for SQLite.
 */
export function testDatabaseUrl (t: TestContext): string | undefined {
  const testPg = process.env.TIMGATE_TEST_PG
  return testPg !== undefined && testPg !== '' ? freshSchema(t, testPg) : undefined
}

/**
 * A configuration on a fresh temporary data dir (its real SQLite file), quiet logs. With
 * TIMGATE_TEST_PG set, the store is a fresh schema of that database instead (testDatabaseUrl),
 * unless `env` names a DATABASE_URL itself: the same tests then run on PostgreSQL. Event
 * streams are served in the gateway's process (TIM_EVENTS_PROCESS=false) unless `env` says
 * otherwise: tests that inject a clock need it there, and most apps of the suite never stream.
 */
export function testConfig (t: TestContext, env: Env = {}): Config {
  const databaseUrl = env.DATABASE_URL === undefined ? testDatabaseUrl(t) : undefined
  const pgEnv = databaseUrl !== undefined ? { DATABASE_URL: databaseUrl } : {}
  return loadConfig({ TIM_DATA_DIR: tempDir(t), LOG_LEVEL: 'silent', TIM_EVENTS_PROCESS: 'false', ...pgEnv, ...env })
}

/** A whole gateway on its own temporary store (see testConfig), closed after the test. */
export async function build (t: TestContext, env: Env = {}, options: Partial<BuildOptions> = {}): Promise<TestApp> {
  const config = options.config ?? testConfig(t, env)
  const app = await buildApp({ ...options, config })
  t.teardown(() => app.close())
  // Signed at the app's own clock: an app on a fake clock checks expiry against that clock.
  const sig = (user: string, expire = 3600) => signUserSig(config.sdkAppId, config.secretKey, user, expire, options.now?.())
  const as = (user: string, onBehalfOf?: string) => ({
    authorization: `Bearer ${sig(user)}`,
    ...(onBehalfOf !== undefined && { 'x-tim-on-behalf-of': onBehalfOf }),
  })
  const call: TestApp['call'] = (user, method, url, body, headers = {}) => app.inject({
    method,
    url,
    headers: { ...as(user), ...headers },
    ...(body !== undefined && { payload: body as InjectOptions['payload'] }),
  })
  return { app, config, sig, as, call }
}

/** A text message body. */
export const text = (content: string, extra: Record<string, unknown> = {}) => ({
  message_elem_array: [{ elem_type: 0, text_elem_content: content }],
  ...extra,
})
