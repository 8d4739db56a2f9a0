import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'

/** The process: configuration, the app, listening, and a graceful close on signals. */
async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`timgate: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
  const app = await buildApp({ config })
  closeWithGrace({ delay: 10_000, logger: app.log }, async ({ err, signal }) => {
    if (err !== undefined) app.log.error({ err }, 'closing after an error')
    else app.log.info({ signal }, 'closing')
    await app.close()
  })
  await app.listen({ host: config.host, port: config.port })
  app.log.info({ sdkappid: config.sdkAppId, admin: config.adminIdentifier, dataDir: config.dataDir }, 'timgate ready')
}

await main()
