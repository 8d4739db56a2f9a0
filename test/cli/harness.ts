import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { resolve } from 'node:path'
import type { Env } from '../../src/config.js'
import { CONFIG_VARS, type TestContext } from '../helper.js'

/** For the tests of the commands in scripts/: run as a user runs them, as child processes. */

export interface Child {
  proc: ChildProcessWithoutNullStreams
  stdout: () => string
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/**
 * A TypeScript entry and its arguments, run the way tap runs this file (its loader comes
 * through execArgv, as in test/server.test.ts), in `cwd` if given; killed at teardown.
 */
export function spawnEntry (t: TestContext, args: string[], env: Env = {}, cwd?: string): Child {
  const base: Env = { ...process.env }
  for (const name of [...CONFIG_VARS, 'TIMGATE_URL', 'TIMGATE_USERSIG']) delete base[name]
  // Elsewhere the TypeScript loader would not find the project's tsconfig by itself.
  if (cwd !== undefined) base.TS_NODE_PROJECT = resolve('tsconfig.json')
  const proc = spawn(process.execPath, [...process.execArgv, ...args], { env: { ...base, ...env }, ...(cwd !== undefined && { cwd }) })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  proc.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
  proc.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    proc.on('close', (code, signal) => resolve({ code, signal }))
  })
  return { proc, stdout: () => stdout, stderr: () => stderr, exited }
}
