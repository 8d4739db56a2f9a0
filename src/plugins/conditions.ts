import fp from 'fastify-plugin'
import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

declare module 'fastify' {
  interface FastifyInstance {
    conditions: Conditions
  }
}

/** Bytes written by the probe of a full disk: a write this size must fit again. */
const PROBE_BYTES = 64 * 1024

/**
 * What keeps the gateway from serving, as `GET /health` reports it (CONTRACT §12): a full
 * disk is noticed by the write that failed (plugins/errors.ts answers it 507) and is over
 * when a write succeeds again, or when the health check's own probe writes; a database that
 * does not answer is asked afresh at every health check.
 */
export interface Conditions {
  /** A write found the storage full. */
  storageFull (): void
  /** Undefined when the gateway can serve, else what keeps it from doing so. */
  check (): Promise<'storage' | 'database' | undefined>
}

export interface ConditionsOptions {
  /** Where uploads and the SQLite file are written: the probe writes there. */
  dataDir: string
}

export default fp<ConditionsOptions>(async (app, opts) => {
  let full = false
  /** A small real write to the store and to the data dir: both fit again, or the storage is still full. */
  const probe = async (): Promise<boolean> => {
    const file = join(opts.dataDir, `.probe-${randomBytes(8).toString('hex')}`)
    try {
      await app.store.probe()
      await writeFile(file, Buffer.alloc(PROBE_BYTES))
      return true
    } catch {
      return false
    } finally {
      await rm(file, { force: true })
    }
  }
  const conditions: Conditions = {
    storageFull () {
      full = true
    },
    async check () {
      try {
        await app.store.ping()
      } catch {
        return 'database'
      }
      if (full && await probe()) full = false
      return full ? 'storage' : undefined
    },
  }
  app.decorate('conditions', conditions)
  // A write that succeeds says there is room again.
  app.addHook('onResponse', (request, reply, done) => {
    if (full && reply.statusCode < 300 && request.method !== 'GET' && request.method !== 'HEAD') full = false
    done()
  })
}, { name: 'timgate-conditions', dependencies: ['timgate-store'] })
