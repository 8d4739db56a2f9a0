import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError, loadConfig, s3Settings, type Env } from '../src/config.js'
import { CONFIG_VARS, tempDir, type TestContext } from './helper.js'
import { nodeArgs } from './fixtures/entry.js'


interface Exit { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

/**
 * Runs a TypeScript entry (and its arguments) the way tap runs this file (fixtures/entry.ts),
 * killed after `ms`.
 */
function runEntry (t: TestContext, args: string[], env: Env, ms = 60_000): Promise<Exit> {
  const base: Env = { ...process.env }
  for (const name of CONFIG_VARS) delete base[name]
  const child = spawn(process.execPath, nodeArgs(args), { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const timer = setTimeout(() => child.kill('SIGKILL'), ms)
  return new Promise(resolve => child.on('close', (code, signal) => {
    clearTimeout(timer)
    resolve({ code, signal, stdout, stderr })
  }))
}

/** The ConfigError that loadConfig throws for `env`, or a failure naming what happened instead. */
function configError (env: Env): ConfigError | string {
  try {
    loadConfig(env)
    return 'loadConfig did not throw'
  } catch (err) {
    return err instanceof ConfigError ? err : `threw ${String(err)} instead of a ConfigError`
  }
}

t.test('when nothing but the data dir is set, then every variable has its documented default', async t => {
  const dir = tempDir(t)
  const config = loadConfig({ TIM_DATA_DIR: dir })
  t.match(config, {
    host: '127.0.0.1',
    port: 8080,
    dataDir: dir,
    adminIdentifier: 'administrator',
    revokeWindowS: 120,
    databaseUrl: undefined,
    downloadAllowedHosts: [],
    downloadTimeoutMs: 30000,
    webhookAllowedHosts: [],
    webhookTimeoutMs: 5000,
    beforeSendTimeoutMs: 2000,
    mediaMaxBytes: 104857600,
    rateLimit: 1000,
    downloadRateLimit: 50,
    downloadConcurrency: 4,
    bodyTimeoutMs: 30000,
    pgPoolSize: 10,
    sqliteSync: 'NORMAL',
    s3Bucket: undefined,
    s3Region: 'us-east-1',
    logLevel: 'info',
    // Not a terminal here: JSON lines.
    logFormat: 'json',
  })
  t.equal(config.databaseUrl, undefined)
  t.ok(Number.isSafeInteger(config.sdkAppId) && config.sdkAppId > 0, 'a positive integer app id')
  t.type(config.secretKey, 'string')
  t.ok(config.secretKey.length >= 32, 'a key of at least 32 characters')
})

t.test('when TIM_DATA_DIR is unset, then the data dir is ./data', async t => {
  const dir = tempDir(t)
  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => process.chdir(cwd))
  const config = loadConfig({})
  t.equal(config.dataDir, join(process.cwd(), 'data'))
  t.ok(existsSync(join(process.cwd(), 'data', 'secret.json')))
})

t.test('when every variable is set to a good value, then each is parsed as its type', async t => {
  const dir = join(tempDir(t), 'nested', 'data')
  const config = loadConfig({
    HOST: '0.0.0.0',
    PORT: '9000',
    TIM_DATA_DIR: dir,
    TIM_SDKAPPID: '1400000001',
    TIM_SECRET_KEY: 'a-secret',
    TIM_ADMIN_IDENTIFIER: 'boss',
    TIM_REVOKE_WINDOW_S: '0',
    DATABASE_URL: 'postgres://u:p@db.example.com:5432/tim',
    TIM_DOWNLOAD_ALLOWED_HOSTS: 'cdn.example.com, Media.Example.com:8443,10.0.0.5,[::1]:9000',
    TIM_DOWNLOAD_TIMEOUT_MS: '5000',
    TIM_WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com:8443',
    TIM_WEBHOOK_TIMEOUT_MS: '7000',
    TIM_BEFORE_SEND_TIMEOUT_MS: '500',
    TIM_MEDIA_MAX_BYTES: '2048',
    TIM_RATE_LIMIT: '0',
    TIM_DOWNLOAD_RATE_LIMIT: '0',
    TIM_DOWNLOAD_CONCURRENCY: '0',
    TIM_HEAVY_CONCURRENCY: '0',
    TIM_EVENTS_PROCESS: 'false',
    TIM_EVENTS_RETENTION_S: '3600',
    TIM_BODY_TIMEOUT_MS: '1500',
    TIM_PG_POOL_SIZE: '5',
    TIM_SQLITE_SYNC: 'full',
    TIM_S3_BUCKET: 'timgate-media',
    TIM_S3_ENDPOINT: 'http://minio.internal:9000',
    TIM_S3_REGION: 'auto',
    TIM_S3_FORCE_PATH_STYLE: 'false',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret-key',
    AWS_SESSION_TOKEN: 'token',
    LOG_LEVEL: 'debug',
    LOG_FORMAT: 'pretty',
  })
  t.same(config, {
    host: '0.0.0.0',
    port: 9000,
    dataDir: dir,
    sdkAppId: 1400000001,
    secretKey: 'a-secret',
    adminIdentifier: 'boss',
    revokeWindowS: 0,
    databaseUrl: 'postgres://u:p@db.example.com:5432/tim',
    downloadAllowedHosts: ['cdn.example.com', 'media.example.com:8443', '10.0.0.5', '[::1]:9000'],
    downloadTimeoutMs: 5000,
    webhookAllowedHosts: ['hooks.example.com:8443'],
    webhookTimeoutMs: 7000,
    beforeSendTimeoutMs: 500,
    mediaMaxBytes: 2048,
    rateLimit: 0,
    downloadRateLimit: 0,
    downloadConcurrency: 0,
    heavyConcurrency: 0,
    eventsProcess: false,
    eventsRetentionS: 3600,
    bodyTimeoutMs: 1500,
    pgPoolSize: 5,
    sqliteSync: 'FULL',
    s3Bucket: 'timgate-media',
    s3Endpoint: 'http://minio.internal:9000',
    s3Region: 'auto',
    s3ForcePathStyle: false,
    awsAccessKeyId: 'AKIAEXAMPLE',
    awsSecretAccessKey: 'secret-key',
    awsSessionToken: 'token',
    logLevel: 'debug',
    logFormat: 'pretty',
  })
  t.ok(statSync(dir).isDirectory(), 'the data dir is created')
})

t.test('when the data dir has no secret, then the first load generates one in secret.json (0600) and the next load returns it', async t => {
  const dir = tempDir(t)
  const first = loadConfig({ TIM_DATA_DIR: dir })
  const file = join(dir, 'secret.json')
  t.equal(statSync(file).mode & 0o777, 0o600, 'mode 0600')
  const stored = JSON.parse(readFileSync(file, 'utf8'))
  t.same(stored, { sdkappid: first.sdkAppId, secret_key: first.secretKey })
  const second = loadConfig({ TIM_DATA_DIR: dir })
  t.same([second.sdkAppId, second.secretKey], [first.sdkAppId, first.secretKey])
  const other = loadConfig({ TIM_DATA_DIR: tempDir(t) })
  t.not(other.secretKey, first.secretKey, 'another data dir gets another key')
})

t.test('when TIM_SDKAPPID and TIM_SECRET_KEY are set, then they win over secret.json, which is left as it was', async t => {
  const dir = tempDir(t)
  loadConfig({ TIM_DATA_DIR: dir })
  const file = join(dir, 'secret.json')
  const before = readFileSync(file, 'utf8')
  const config = loadConfig({ TIM_DATA_DIR: dir, TIM_SDKAPPID: '1400123456', TIM_SECRET_KEY: 'from-the-env' })
  t.equal(config.sdkAppId, 1400123456)
  t.equal(config.secretKey, 'from-the-env')
  t.equal(readFileSync(file, 'utf8'), before)
})

t.test('when TIM_SDKAPPID and TIM_SECRET_KEY are set on a fresh data dir, then no secret is generated', async t => {
  const dir = tempDir(t)
  loadConfig({ TIM_DATA_DIR: dir, TIM_SDKAPPID: '1400123456', TIM_SECRET_KEY: 'from-the-env' })
  t.notOk(existsSync(join(dir, 'secret.json')))
})

t.test('when only one of TIM_SDKAPPID and TIM_SECRET_KEY is set, then a ConfigError names both', async t => {
  for (const env of [{ TIM_SDKAPPID: '1400123456' }, { TIM_SECRET_KEY: 'k' }]) {
    const err = configError({ TIM_DATA_DIR: tempDir(t), ...env })
    t.type(err, ConfigError, JSON.stringify(env))
    t.match(String(err), /TIM_SDKAPPID/)
    t.match(String(err), /TIM_SECRET_KEY/)
  }
})

t.test('when secret.json is not a timgate secret, then a ConfigError names the file and the file is kept', async t => {
  for (const content of ['not json', '{"sdkappid":"1","secret_key":2}']) {
    const dir = tempDir(t)
    const file = join(dir, 'secret.json')
    writeFileSync(file, content)
    const err = configError({ TIM_DATA_DIR: dir })
    t.type(err, ConfigError, content)
    t.match(String(err), /secret\.json/)
    t.equal(readFileSync(file, 'utf8'), content)
  }
})

const badValues: Array<[string, string]> = [
  ['PORT', 'abc'],
  ['PORT', '70000'],
  ['PORT', '-1'],
  ['PORT', '80.5'],
  ['PORT', ''],
  ['HOST', ''],
  ['HOST', '   '],
  ['TIM_REVOKE_WINDOW_S', '-1'],
  ['TIM_REVOKE_WINDOW_S', 'two minutes'],
  ['LOG_LEVEL', 'loud'],
  ['LOG_LEVEL', ''],
  ['DATABASE_URL', 'mysql://x'],
  ['DATABASE_URL', 'postgres'],
  ['DATABASE_URL', 'postgres://not a host/db'],
  ['TIM_DOWNLOAD_ALLOWED_HOSTS', 'cdn.example.com,bad host'],
  ['TIM_DOWNLOAD_ALLOWED_HOSTS', 'https://cdn.example.com'],
  ['TIM_DOWNLOAD_ALLOWED_HOSTS', 'cdn.example.com/path'],
  ['TIM_DOWNLOAD_ALLOWED_HOSTS', 'cdn.example.com:port'],
  ['TIM_ADMIN_IDENTIFIER', 'a'.repeat(33)],
  ['TIM_ADMIN_IDENTIFIER', ''],
  ['TIM_DOWNLOAD_TIMEOUT_MS', '0'],
  ['TIM_DOWNLOAD_TIMEOUT_MS', 'soon'],
  ['TIM_MEDIA_MAX_BYTES', '0'],
  ['TIM_MEDIA_MAX_BYTES', '100MB'],
  ['TIM_RATE_LIMIT', '-5'],
  ['TIM_RATE_LIMIT', 'lots'],
  ['TIM_DOWNLOAD_RATE_LIMIT', '-1'],
  ['TIM_DOWNLOAD_RATE_LIMIT', '2.5'],
  ['TIM_DOWNLOAD_CONCURRENCY', 'four'],
  ['TIM_BODY_TIMEOUT_MS', '0'],
  ['TIM_BODY_TIMEOUT_MS', '300001'],
  ['TIM_SQLITE_SYNC', 'off'],
  ['TIM_SQLITE_SYNC', 'extra'],
  ['TIM_SDKAPPID', 'abc'],
  ['TIM_SDKAPPID', '0'],
  ['TIM_SECRET_KEY', ''],
  ['TIM_S3_BUCKET', 'ab'],
  ['TIM_S3_BUCKET', 'My_Bucket'],
  ['TIM_S3_BUCKET', '-bucket'],
  ['TIM_S3_ENDPOINT', 'minio:9000'],
  ['TIM_S3_ENDPOINT', 'ftp://minio'],
  ['TIM_S3_ENDPOINT', 'http://minio.internal:9000'],
  ['TIM_S3_FORCE_PATH_STYLE', 'yes'],
  ['TIM_S3_FORCE_PATH_STYLE', 'true'],
  ['AWS_ACCESS_KEY_ID', 'AKIAEXAMPLE'],
  ['AWS_SECRET_ACCESS_KEY', 'secret-key'],
]

t.test('when a variable has a bad value, then loadConfig throws a ConfigError naming it', async t => {
  for (const [name, value] of badValues) {
    const pair: Env = name === 'TIM_SDKAPPID' ? { TIM_SECRET_KEY: 'k' } : name === 'TIM_SECRET_KEY' ? { TIM_SDKAPPID: '1400000001' } : {}
    const err = configError({ TIM_DATA_DIR: tempDir(t), ...pair, [name]: value })
    t.type(err, ConfigError, `${name}=${JSON.stringify(value)}`)
    t.match(String(err), name, `${name}=${JSON.stringify(value)}: the message names it`)
  }
})

t.test('when TIM_S3_BUCKET is set alone, then the endpoint is AWS\'s and path style follows the endpoint', async t => {
  const alone = loadConfig({ TIM_DATA_DIR: tempDir(t), TIM_S3_BUCKET: 'media.example.com' })
  t.match(alone, { s3Bucket: 'media.example.com', s3Endpoint: undefined, s3Region: 'us-east-1', s3ForcePathStyle: undefined, awsAccessKeyId: undefined })
  t.match(s3Settings(alone), { bucket: 'media.example.com', region: 'us-east-1' })
  t.equal(s3Settings(loadConfig({ TIM_DATA_DIR: tempDir(t) })), undefined, 'no bucket: the data dir keeps uploads')
  const err = configError({ TIM_DATA_DIR: tempDir(t), TIM_S3_ENDPOINT: 'http://127.0.0.1:9000' })
  t.equal(String(err), 'ConfigError: TIM_S3_ENDPOINT is set but TIM_S3_BUCKET is not: set the bucket to keep uploads in object storage, or unset TIM_S3_ENDPOINT')
})

t.test('when TIM_DOWNLOAD_ALLOWED_HOSTS has a port out of range or a name with no label, then a ConfigError names it', async t => {
  const good = loadConfig({ TIM_DATA_DIR: tempDir(t), TIM_DOWNLOAD_ALLOWED_HOSTS: 'CDN.example.com, cdn.example.com:8443,[::1]:443,127.0.0.1:80' })
  t.same(good.downloadAllowedHosts, ['cdn.example.com', 'cdn.example.com:8443', '[::1]:443', '127.0.0.1:80'])
  for (const value of ['cdn.example.com:99999', 'cdn.example.com:0', '...', '-bad.example', '[zz::1]']) {
    const err = configError({ TIM_DATA_DIR: tempDir(t), TIM_DOWNLOAD_ALLOWED_HOSTS: value })
    t.type(err, ConfigError, value)
    t.match(String(err), 'TIM_DOWNLOAD_ALLOWED_HOSTS', value)
  }
})

t.test('when TIM_DATA_DIR cannot be created, then a ConfigError names TIM_DATA_DIR', async t => {
  const file = join(tempDir(t), 'a-file')
  writeFileSync(file, '')
  const err = configError({ TIM_DATA_DIR: join(file, 'data') })
  t.type(err, ConfigError)
  t.match(String(err), 'TIM_DATA_DIR')
})

t.test('when the server starts with a bad variable, then it exits non-zero with one line on stderr naming it', async t => {
  const cases: Array<[string, Env]> = [
    ['PORT', { PORT: 'abc' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['TIM_DOWNLOAD_ALLOWED_HOSTS', { TIM_DOWNLOAD_ALLOWED_HOSTS: 'ok.example.com,bad entry' }],
    ['TIM_SDKAPPID', { TIM_SDKAPPID: '1400000001' }],
  ]
  const runs = await Promise.all(cases.map(([, env]) => runEntry(t, ['src/server.ts'], { TIM_DATA_DIR: tempDir(t), PORT: '0', ...env })))
  cases.forEach(([name], i) => {
    const run = runs[i]!
    t.equal(run.signal, null, `${name}: exited by itself`)
    t.not(run.code, 0, `${name}: non-zero exit`)
    t.not(run.code, null, `${name}: an exit code`)
    const lines = run.stderr.split('\n').filter(l => l.trim() !== '')
    t.equal(lines.length, 1, `${name}: one line on stderr, got ${JSON.stringify(run.stderr)}`)
    t.match(lines[0] ?? '', name, `${name}: the line names the variable`)
    t.notMatch(lines[0] ?? '', /\bat \S+:\d+/, `${name}: no stack trace`)
    t.equal(run.stdout, '', `${name}: nothing on stdout`)
  })
})

t.test('when the usersig command meets a bad variable, then it exits non-zero with one line naming it', async t => {
  const run = await runEntry(t, ['scripts/usersig.ts', 'alice'], { TIM_DATA_DIR: tempDir(t), TIM_REVOKE_WINDOW_S: '-1' })
  t.not(run.code, 0)
  t.not(run.code, null)
  const lines = run.stderr.split('\n').filter(l => l.trim() !== '')
  t.equal(lines.length, 1, JSON.stringify(run.stderr))
  t.match(lines[0] ?? '', 'TIM_REVOKE_WINDOW_S')
  t.equal(run.stdout, '', 'no UserSig printed')
})
