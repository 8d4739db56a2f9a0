#!/usr/bin/env node
import { importCommand } from './cli/import.js'
import { usersig } from './cli/usersig.js'

/** The timgate command (package.json "bin"): timgate <import|usersig> … */
const USAGE = `usage: timgate <command> [arguments]

commands:
  import <file.ndjson> --conversation <id> [options]
                       import a dump of messages over the HTTP API, resumably
                       (timgate import --help for the options)
  usersig <identifier> [expire_seconds]
                       print a UserSig for the gateway's app (as npm run usersig)
  help                 this text`

const [command, ...args] = process.argv.slice(2)
switch (command) {
  case 'import':
    process.exitCode = await importCommand(args)
    break
  case 'usersig':
    process.exitCode = usersig(args, 'timgate usersig <identifier> [expire_seconds]')
    break
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(USAGE + '\n')
    break
  default:
    process.stderr.write(`${command === undefined ? 'timgate: which command?' : `timgate: unknown command ${JSON.stringify(command)}`}\n${USAGE}\n`)
    process.exitCode = 2
}
