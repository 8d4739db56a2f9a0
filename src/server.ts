import closeWithGrace from 'close-with-grace'
import { createServer } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { ConfigError, listenError, loadConfig, type Config } from './config.js'

/** Start-up stops with one line naming what to fix, and exit code 1. */
function stop (err: ConfigError): never {
  process.stderr.write(`timgate: ${err.message}\n`)
  process.exit(1)
}

/**
 * Can the process listen on HOST:PORT? Tried before the app is built (seconds on a busy
 * machine), so that a bad HOST or a busy PORT stops start-up at once; the real listen
 * checks again.
 */
async function listenable (config: Config): Promise<void> {
  if (config.port === 0) return
  const probe = createServer()
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen({ host: config.host, port: config.port }, resolve))
    .finally(() => new Promise<void>(resolve => probe.close(() => resolve())))
}

/** The process: configuration, the app, listening, and a graceful close on signals. */
async function main (): Promise<void> {
  let config: Config
  let app: FastifyInstance
  try {
    config = loadConfig()
    await listenable(config).catch((err: unknown) => { throw listenError(err, config) ?? err })
    // The app's modules load only once the settings are good: a bad one answers at once.
    const { buildApp } = await import('./app.js')
    // Opening the store reaches DATABASE_URL: the store plugin names it when it cannot.
    app = await buildApp({ config })
  } catch (err) {
    if (err instanceof ConfigError) stop(err)
    throw err
  }
  closeWithGrace({ delay: 10_000, logger: app.log }, async ({ err, signal }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    await app.close()
  })
  // The event streams' own process serves from the first stream on (until then, the gateway would).
  await app.streamProcess?.started()
  let address: string
  try {
    address = await app.listen({ host: config.host, port: config.port })
  } catch (err) {
    const line = listenError(err, config)
    if (line === undefined) throw err
    await app.close()
    stop(line)
  }
  app.log.info({ sdkappid: config.sdkAppId, admin: config.adminIdentifier, dataDir: config.dataDir, store: app.store.kind, docs: `${address}/docs` },
    `timgate ready on ${address}: the API reference is at ${address}/docs`)
}

await main()
