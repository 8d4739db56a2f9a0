import { ConfigError, loadConfig } from '../../src/config.js'
import { signUserSig } from '../../src/auth/usersig.js'
import { isUserId } from '../../src/messages/ids.js'

/** What is wrong with `id` as a UserID (CONTRACT §3: 1-32 bytes of printable ASCII), or undefined. */
export function userIdProblem (id: string): string | undefined {
  if (isUserId(id)) return undefined
  if (id === '') return 'it is empty'
  const bad = [...id].findIndex(c => !/^[\x20-\x7e]$/.test(c))
  if (bad >= 0) {
    const c = [...id][bad]!
    return `character ${bad + 1} is U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, which is not printable ASCII`
  }
  return `it is ${Buffer.byteLength(id)} bytes long`
}

/** A value as it can be shown on one line: JSON-quoted, control characters escaped. */
export const shown = (s: string): string => JSON.stringify(s)

/**
 * `<identifier> [expire_seconds]`: prints a UserSig for the gateway's app on stdout. Never
 * creates a secret: one made here would sign tokens that the server (with its own) rejects.
 * Returns the exit code: 0, 1 (no secret, bad configuration) or 2 (usage).
 */
export function usersig (args: string[], usage: string): number {
  const fail = (code: number, line: string) => {
    process.stderr.write(`timgate: ${line}\n`)
    if (code === 2) process.stderr.write(`usage: ${usage}\n`)
    return code
  }
  if (args.length < 1 || args.length > 2) return fail(2, 'expected an identifier and optionally the seconds until it expires')
  const [identifier = '', expireArg = '86400'] = args
  const problem = userIdProblem(identifier)
  if (problem !== undefined) return fail(2, `invalid identifier ${shown(identifier)}: a UserID is 1-32 bytes of printable ASCII, and ${problem}`)
  if (!/^\d{1,10}$/.test(expireArg) || Number(expireArg) < 1) return fail(2, `expire_seconds must be a whole number of seconds from 1, got ${shown(expireArg)}`)
  try {
    const config = loadConfig(process.env, { createSecret: false })
    process.stdout.write(signUserSig(config.sdkAppId, config.secretKey, identifier, Number(expireArg)) + '\n')
    return 0
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return fail(1, err.message)
  }
}
