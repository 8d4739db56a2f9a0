import { usersig } from './cli/usersig.js'

/** npm run usersig -- <identifier> [expire_seconds]: prints a UserSig for the gateway's app. */
process.exitCode = usersig(process.argv.slice(2), 'npm run usersig -- <identifier> [expire_seconds]')
