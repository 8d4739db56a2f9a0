import { ConfigError, loadConfig } from '../src/config.js'
import { signUserSig } from '../src/auth/usersig.js'
import { isUserId } from '../src/messages/ids.js'

/** npm run usersig -- <identifier> [expire_seconds]: prints a UserSig for the gateway's app. */
const [identifier, expireArg = '86400'] = process.argv.slice(2)
if (identifier === undefined || !isUserId(identifier) || !/^\d+$/.test(expireArg)) {
  process.stderr.write('usage: npm run usersig -- <identifier> [expire_seconds]\n')
  process.exit(2)
}
try {
  const config = loadConfig()
  process.stdout.write(signUserSig(config.sdkAppId, config.secretKey, identifier, Number(expireArg)) + '\n')
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`timgate: ${err.message}\n`)
  process.exit(1)
}
