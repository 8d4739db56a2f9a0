// What the SQLite suites share: the file origin, the bare proxy of it, the gateway allowed
// to fetch from it, and the SQLite version.
import { Buffer } from 'node:buffer'
import { closeSync, openSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MB } from '../lib/format.mjs'

/** A file of `bytes` (a pseudo-random pattern, so nothing compresses it away). */
function writeDownloadFile (file, bytes) {
  const block = Buffer.alloc(Math.min(bytes, MB))
  for (let i = 0; i + 4 <= block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i)
  const fd = openSync(file, 'w')
  for (let written = 0; written < bytes; written += block.length) writeFileSync(fd, block.subarray(0, Math.min(block.length, bytes - written)))
  closeSync(fd)
}

/** The origin baseline serving a new file of `bytes` (its path is the server's `file`). */
export async function startOrigin (ctx, bytes, env = {}) {
  const file = join(ctx.dir, 'download.bin')
  writeDownloadFile(file, bytes)
  return { ...await ctx.startBaseline('origin', 'origin', { env: { BENCH_DOWNLOAD_FILE: file, ...env } }), file }
}

export const startProxy = (ctx) => ctx.startBaseline('proxy', 'proxy', { env: { BENCH_ORIGIN: ctx.servers.origin.base } })

/** The gateway, allowed to fetch from the origin when the origin is up. */
export const startGatewayOfOrigin = (ctx) => ctx.startGateway('gateway', {
  env: ctx.servers.origin === undefined ? {} : { TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${ctx.servers.origin.port}` },
})

/** The machine facts of a SQLite suite: the SQLite version better-sqlite3 links. */
export async function sqliteSetup () {
  const { default: Database } = await import('better-sqlite3')
  return { sqlite: new Database(':memory:').prepare('SELECT sqlite_version() AS v').get().v }
}
