import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { buildApp, type BuildOptions } from '../src/app.js'
import { loadConfig, type Config, type Env } from '../src/config.js'
import { signUserSig } from '../src/auth/usersig.js'

/** The bits of a tap test that the helpers need. */
export interface TestContext { teardown (fn: () => unknown): void }

export interface TestApp {
  app: FastifyInstance
  config: Config
  /** A fresh UserSig of `user` for this app. */
  sig (user: string, expire?: number): string
  /** Headers that authenticate as `user` (and, for the admin, act for `onBehalfOf`). */
  as (user: string, onBehalfOf?: string): Record<string, string>
  /** app.inject with JSON in and out. */
  call (user: string, method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>
}

/** A fresh temporary data directory, removed after the test. */
export function tempDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'timgate-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A configuration on a fresh temporary data dir (its real SQLite file), quiet logs. */
export function testConfig (t: TestContext, env: Env = {}): Config {
  return loadConfig({ TIM_DATA_DIR: tempDir(t), LOG_LEVEL: 'silent', ...env })
}

/** A whole gateway on its own temporary SQLite file, closed after the test. */
export async function build (t: TestContext, env: Env = {}, options: Partial<BuildOptions> = {}): Promise<TestApp> {
  const config = options.config ?? testConfig(t, env)
  const app = await buildApp({ ...options, config })
  t.teardown(() => app.close())
  const sig = (user: string, expire = 3600) => signUserSig(config.sdkAppId, config.secretKey, user, expire)
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
