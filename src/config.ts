import { randomBytes, randomInt } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIPv6 } from 'node:net'
import { join, resolve } from 'node:path'
import { isUserId } from './messages/ids.js'
import type { S3Settings } from './media/s3-uploads.js'

/** A bad environment variable: start-up stops with this one line. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Parser<T> = (raw: string, name: string) => T

const integer = (min: number, max: number): Parser<number> => (raw, name) => {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`)
  const n = Number(raw.trim())
  if (n < min || n > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`)
  return n
}
const text: Parser<string> = (raw, name) => {
  if (raw.trim() === '') throw new ConfigError(`${name} must not be empty`)
  return raw.trim()
}
const userId: Parser<string> = (raw, name) => {
  if (!isUserId(raw)) throw new ConfigError(`${name} must be a UserID: 1-32 bytes of printable ASCII, got "${raw}"`)
  return raw
}
const level: Parser<string> = (raw, name) => {
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
  if (!levels.includes(raw)) throw new ConfigError(`${name} must be one of ${levels.join(', ')}, got "${raw}"`)
  return raw
}
/** LOG_FORMAT: `auto` is pretty on a terminal, JSON otherwise (a file, a pipe, a container's log). */
const logFormat: Parser<'json' | 'pretty'> = (raw, name) => {
  const v = raw.trim().toLowerCase()
  if (v === 'auto') return process.stdout.isTTY === true ? 'pretty' : 'json'
  if (v !== 'json' && v !== 'pretty') throw new ConfigError(`${name} must be auto, json or pretty, got "${raw}"`)
  return v
}
const sqliteSync: Parser<'NORMAL' | 'FULL'> = (raw, name) => {
  const v = raw.trim().toUpperCase()
  if (v !== 'NORMAL' && v !== 'FULL') throw new ConfigError(`${name} must be normal or full, got "${raw}"`)
  return v
}
const postgresUrl: Parser<string> = (raw, name) => {
  if (!/^postgres(ql)?:\/\//.test(raw) || !URL.canParse(raw)) throw new ConfigError(`${name} must be a postgres:// URL`)
  return raw
}
/** S3's rule for bucket names (R2 and MinIO keep it): 3-63 of a-z, 0-9, '.', '-', a letter or digit at each end. */
const bucket: Parser<string> = (raw, name) => {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(raw) || raw.includes('..')) {
    throw new ConfigError(`${name} must be a bucket name: 3-63 of a-z, 0-9, "." and "-", starting and ending with a letter or digit, got "${raw}"`)
  }
  return raw
}
const httpUrl: Parser<string> = (raw, name) => {
  if (!/^https?:\/\//i.test(raw.trim()) || !URL.canParse(raw.trim())) throw new ConfigError(`${name} must be an http:// or https:// URL, got "${raw}"`)
  return raw.trim()
}
const flag: Parser<boolean> = (raw, name) => {
  const v = raw.trim().toLowerCase()
  if (v === 'true' || v === '1') return true
  if (v === 'false' || v === '0') return false
  throw new ConfigError(`${name} must be true or false, got "${raw}"`)
}
const LABEL = '(?!-)[a-z0-9-]{1,63}(?<!-)'
const HOST_ENTRY = new RegExp(`^(?:\\[([0-9a-f:.]+)\\]|(${LABEL}(?:\\.${LABEL})*))(?::(\\d{1,5}))?$`)
const hostList: Parser<string[]> = (raw, name) => {
  const hosts = raw.split(',').map(h => h.trim().toLowerCase()).filter(h => h !== '')
  for (const h of hosts) {
    const m = HOST_ENTRY.exec(h)
    const port = m?.[3] === undefined ? undefined : Number(m[3])
    if (m === null || (m[1] !== undefined && !isIPv6(m[1])) || (port !== undefined && (port < 1 || port > 65535))) {
      throw new ConfigError(`${name} has an invalid entry "${h}" (expected host, host:port or [ipv6]:port with a port of 1-65535)`)
    }
  }
  return hosts
}

/** Every variable of CONTRACT §2: its parser and its default. */
const spec = {
  host: { env: 'HOST', parse: text, fallback: '127.0.0.1' },
  port: { env: 'PORT', parse: integer(0, 65535), fallback: '8080' },
  dataDir: { env: 'TIM_DATA_DIR', parse: text, fallback: './data' },
  adminIdentifier: { env: 'TIM_ADMIN_IDENTIFIER', parse: userId, fallback: 'administrator' },
  revokeWindowS: { env: 'TIM_REVOKE_WINDOW_S', parse: integer(0, 2 ** 31), fallback: '120' },
  databaseUrl: { env: 'DATABASE_URL', parse: postgresUrl, fallback: undefined },
  pgPoolSize: { env: 'TIM_PG_POOL_SIZE', parse: integer(1, 1000), fallback: '10' },
  sqliteSync: { env: 'TIM_SQLITE_SYNC', parse: sqliteSync, fallback: 'normal' },
  downloadAllowedHosts: { env: 'TIM_DOWNLOAD_ALLOWED_HOSTS', parse: hostList, fallback: '' },
  downloadTimeoutMs: { env: 'TIM_DOWNLOAD_TIMEOUT_MS', parse: integer(1, 3_600_000), fallback: '30000' },
  webhookAllowedHosts: { env: 'TIM_WEBHOOK_ALLOWED_HOSTS', parse: hostList, fallback: '' },
  webhookTimeoutMs: { env: 'TIM_WEBHOOK_TIMEOUT_MS', parse: integer(1, 600_000), fallback: '5000' },
  beforeSendTimeoutMs: { env: 'TIM_BEFORE_SEND_TIMEOUT_MS', parse: integer(1, 60_000), fallback: '2000' },
  mediaMaxBytes: { env: 'TIM_MEDIA_MAX_BYTES', parse: integer(1, Number.MAX_SAFE_INTEGER), fallback: '104857600' },
  rateLimit: { env: 'TIM_RATE_LIMIT', parse: integer(0, 1_000_000), fallback: '1000' },
  downloadRateLimit: { env: 'TIM_DOWNLOAD_RATE_LIMIT', parse: integer(0, 1_000_000), fallback: '50' },
  downloadConcurrency: { env: 'TIM_DOWNLOAD_CONCURRENCY', parse: integer(0, 100_000), fallback: '4' },
  heavyConcurrency: { env: 'TIM_HEAVY_CONCURRENCY', parse: integer(0, 1000), fallback: '2' },
  eventsProcess: { env: 'TIM_EVENTS_PROCESS', parse: flag, fallback: 'true' },
  eventsRetentionS: { env: 'TIM_EVENTS_RETENTION_S', parse: integer(60, 10 * 365 * 86400), fallback: '604800' },
  // At most the 5-minute request timeout of src/app.ts, which Node requires of headersTimeout.
  bodyTimeoutMs: { env: 'TIM_BODY_TIMEOUT_MS', parse: integer(1, 300_000), fallback: '30000' },
  s3Bucket: { env: 'TIM_S3_BUCKET', parse: bucket, fallback: undefined },
  s3Endpoint: { env: 'TIM_S3_ENDPOINT', parse: httpUrl, fallback: undefined },
  s3Region: { env: 'TIM_S3_REGION', parse: text, fallback: 'us-east-1' },
  s3ForcePathStyle: { env: 'TIM_S3_FORCE_PATH_STYLE', parse: flag, fallback: undefined },
  awsAccessKeyId: { env: 'AWS_ACCESS_KEY_ID', parse: text, fallback: undefined },
  awsSecretAccessKey: { env: 'AWS_SECRET_ACCESS_KEY', parse: text, fallback: undefined },
  awsSessionToken: { env: 'AWS_SESSION_TOKEN', parse: text, fallback: undefined },
  logLevel: { env: 'LOG_LEVEL', parse: level, fallback: 'info' },
  logFormat: { env: 'LOG_FORMAT', parse: logFormat, fallback: 'auto' },
} as const

type Spec = typeof spec
type Parsed<K extends keyof Spec> = ReturnType<Spec[K]['parse']>
type EnvConfig = {
  [K in keyof Spec]: Spec[K]['fallback'] extends undefined ? Parsed<K> | undefined : Parsed<K>
}

export type Config = EnvConfig & {
  /** The app id that UserSigs are signed for. */
  sdkAppId: number
  /** The HMAC key of TLSSigAPIv2. */
  secretKey: string
}

export type Env = Record<string, string | undefined>

function fromEnv (env: Env): EnvConfig {
  const out: Record<string, unknown> = {}
  for (const [key, { env: name, parse, fallback }] of Object.entries(spec)) {
    const raw = env[name] ?? fallback
    out[key] = raw === undefined ? undefined : (parse as Parser<unknown>)(raw, name)
  }
  return out as EnvConfig
}

const SECRET_FILE = 'secret.json'

/**
 * The app id and key: from the environment when both are set, else from the data dir,
 * generated there (mode 0600) on first start (unless `createSecret` is false).
 */
function credentials (env: Env, dataDir: string, createSecret = true): { sdkAppId: number, secretKey: string } {
  const appIdRaw = env.TIM_SDKAPPID
  const keyRaw = env.TIM_SECRET_KEY
  if ((appIdRaw === undefined) !== (keyRaw === undefined)) {
    throw new ConfigError('TIM_SDKAPPID and TIM_SECRET_KEY must be set together (or both left unset to use the generated pair)')
  }
  if (appIdRaw !== undefined && keyRaw !== undefined) {
    return { sdkAppId: integer(1, 2 ** 32 - 1)(appIdRaw, 'TIM_SDKAPPID'), secretKey: text(keyRaw, 'TIM_SECRET_KEY') }
  }
  const file = join(dataDir, SECRET_FILE)
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { sdkappid?: unknown, secret_key?: unknown }
    if (typeof stored.sdkappid !== 'number' || typeof stored.secret_key !== 'string') {
      throw new ConfigError(`${file} is not a timgate secret file (expected {"sdkappid", "secret_key"})`)
    }
    return { sdkAppId: stored.sdkappid, secretKey: stored.secret_key }
  } catch (err) {
    if (err instanceof ConfigError) throw err
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`)
    }
  }
  if (!createSecret) {
    const where = env.TIM_DATA_DIR === undefined ? 'TIM_DATA_DIR is unset: ./data of the current directory' : `TIM_DATA_DIR=${env.TIM_DATA_DIR}`
    throw new ConfigError(`no ${SECRET_FILE} in ${dataDir} (${where}) and TIM_SDKAPPID/TIM_SECRET_KEY are not set: ` +
      'start the server once with this TIM_DATA_DIR, run from the directory the server runs in (or set TIM_DATA_DIR to its data dir), or set TIM_SDKAPPID and TIM_SECRET_KEY')
  }
  const generated = { sdkappid: randomInt(1_400_000_000, 1_500_000_000), secret_key: randomBytes(32).toString('hex') }
  try {
    writeFileSync(file, JSON.stringify(generated, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Another process starting on the same fresh data dir wrote it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return credentials(env, dataDir)
    throw new ConfigError(`cannot write ${file}: ${(err as Error).message}`)
  }
  chmodSync(file, 0o600)
  return { sdkAppId: generated.sdkappid, secretKey: generated.secret_key }
}

export interface LoadOptions {
  /**
   * false: neither the data dir nor a secret is created; a missing secret.json (without
   * TIM_SDKAPPID/TIM_SECRET_KEY) is a ConfigError saying where it was looked for. For the
   * commands that sign UserSigs: a new secret would sign tokens the server rejects.
   */
  createSecret?: boolean
}

/** Settings that only mean something together. */
function checkTogether (c: EnvConfig): void {
  if (c.s3Bucket === undefined) {
    for (const [name, v] of [['TIM_S3_ENDPOINT', c.s3Endpoint], ['TIM_S3_FORCE_PATH_STYLE', c.s3ForcePathStyle]] as const) {
      if (v !== undefined) throw new ConfigError(`${name} is set but TIM_S3_BUCKET is not: set the bucket to keep uploads in object storage, or unset ${name}`)
    }
  }
  if ((c.awsAccessKeyId === undefined) !== (c.awsSecretAccessKey === undefined)) {
    throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (or both left unset for the AWS SDK\'s own chain: profile, instance role)')
  }
}

/** The object storage of uploads (TIM_S3_BUCKET), or undefined: the data dir keeps them. */
export function s3Settings (c: Config): S3Settings | undefined {
  if (c.s3Bucket === undefined) return undefined
  return {
    bucket: c.s3Bucket,
    region: c.s3Region,
    endpoint: c.s3Endpoint,
    forcePathStyle: c.s3ForcePathStyle,
    accessKeyId: c.awsAccessKeyId,
    secretAccessKey: c.awsSecretAccessKey,
    sessionToken: c.awsSessionToken,
  }
}

/** Reads and checks the whole configuration once; throws ConfigError naming the variable. */
export function loadConfig (env: Env = process.env, { createSecret = true }: LoadOptions = {}): Config {
  const base = fromEnv(env)
  checkTogether(base)
  const dataDir = resolve(base.dataDir)
  try {
    if (createSecret) mkdirSync(dataDir, { recursive: true })
  } catch (err) {
    throw new ConfigError(`TIM_DATA_DIR "${base.dataDir}" cannot be created: ${(err as Error).message}`)
  }
  return { ...base, dataDir, ...credentials(env, dataDir, createSecret) }
}

/** DATABASE_URL as it may be shown: scheme, user, host, port and database; never a password or the query. */
export function shownDatabaseUrl (url: string): string {
  const u = new URL(url)
  return `${u.protocol}//${u.username === '' ? '' : `${u.username}@`}${u.host}${u.pathname}`
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])

/** A store that cannot be opened at DATABASE_URL, as the one line that stops start-up. */
export function databaseUrlError (url: string, err: unknown): ConfigError {
  const e = err as { code?: string, message?: string }
  const password = URL.canParse(url) ? decodeURIComponent(new URL(url).password) : ''
  let why = String(e.message ?? err)
  if (password !== '') why = why.split(password).join('***')
  const unreachable = UNREACHABLE.has(e.code ?? '') || /timeout/i.test(why)
  const shown = URL.canParse(url) ? shownDatabaseUrl(url) : 'postgres://…'
  return new ConfigError(`DATABASE_URL ${shown} ${unreachable ? 'cannot be reached' : 'cannot be opened'}: ${why.replace(/\s+/g, ' ')}`, { cause: err })
}

const LOOKUP_FAILURES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA'])

/** A failure to listen as the one line that names HOST or PORT; undefined when it is neither's doing. */
export function listenError (err: unknown, config: Pick<Config, 'host' | 'port'>): ConfigError | undefined {
  const { code, syscall } = err as NodeJS.ErrnoException
  const on = `${config.host}:${config.port}`
  if (syscall === 'getaddrinfo' || LOOKUP_FAILURES.has(code ?? '')) return new ConfigError(`HOST "${config.host}" does not resolve to an address (${code ?? 'lookup failed'})`, { cause: err })
  if (code === 'EADDRNOTAVAIL') return new ConfigError(`HOST "${config.host}" is not an address of this machine (EADDRNOTAVAIL)`, { cause: err })
  if (code === 'EADDRINUSE') return new ConfigError(`PORT ${config.port} is already in use (EADDRINUSE on ${on})`, { cause: err })
  if (code === 'EACCES') return new ConfigError(`PORT ${config.port} may not be listened on by this process (EACCES on ${on}; ports below 1024 need privileges)`, { cause: err })
  return undefined
}
