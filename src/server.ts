import closeWithGrace from 'close-with-grace'
import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.js'
import { ConfigError, listenError, loadConfig, type Config } from './config.js'

/** Start-up stops with one line naming what to fix, and exit code 1. */
function stop (err: ConfigError): never {
  process.stderr.write(`timgate: ${err.message}\n`)
  process.exit(1)
}

/** The process: configuration, the app, listening, and a graceful close on signals. */
async function main (): Promise<void> {
  let config: Config
  let app: FastifyInstance
  try {
    config = loadConfig()
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
  try {
    await app.listen({ host: config.host, port: config.port })
  } catch (err) {
    const line = listenError(err, config)
    if (line === undefined) throw err
    await app.close()
    stop(line)
  }
  app.log.info({ sdkappid: config.sdkAppId, admin: config.adminIdentifier, dataDir: config.dataDir }, 'timgate ready')
}

await main()
