import type { IdempotencyStore, KeyRef } from '../../db/store.js'

/** Idempotency keys are kept this long (CONTRACT §7). */
export const IDEMPOTENCY_TTL_S = 24 * 3600
/**
 * A key still pending after this long belongs to a request that died (a crash between
 * its write and the record of its response): the same request may take it over.
 */
export const IDEMPOTENCY_PENDING_S = 60
/** How many times a rewrite that raced another is read and tried again. */
const REWRITE_ATTEMPTS = 8

/** What became of a key a request brings. */
export type Claim =
  | { state: 'claimed' }
  | { state: 'mismatch' }
  | { state: 'pending' }
  | { state: 'done', status: number, body: string }

export interface IdempotencyKeysOptions {
  store: IdempotencyStore
  /** Unix seconds now. */
  now: () => number
  /** The message ids a recorded response carries (revoke rewrites those responses). */
  carried: (body: string) => string[]
}

/**
 * The Idempotency-Key rule (CONTRACT §7) over its port: the first request with a key takes
 * it, a replay of the same request gets the recorded response, another request with it is
 * a mismatch; keys last 24 hours; a revoked message leaves every recorded response.
 */
export class IdempotencyKeys {
  readonly #store: IdempotencyStore
  readonly #now: () => number
  readonly #carried: (body: string) => string[]

  constructor (options: IdempotencyKeysOptions) {
    this.#store = options.store
    this.#now = options.now
    this.#carried = options.carried
  }

  async claim (k: KeyRef, requestHash: string): Promise<Claim> {
    const now = this.#now()
    const record = await this.#store.take(k, requestHash, now, {
      expiredBefore: now - IDEMPOTENCY_TTL_S,
      staleBefore: now - IDEMPOTENCY_PENDING_S,
    })
    if (record === null) return { state: 'claimed' }
    if (record.requestHash !== requestHash) return { state: 'mismatch' }
    if (record.status === null || record.body === null) return { state: 'pending' }
    return { state: 'done', status: record.status, body: record.body }
  }

  async complete (k: KeyRef, status: number, body: string): Promise<void> {
    await this.#store.complete(k, status, body, this.#carried(body))
  }

  async release (k: KeyRef): Promise<void> {
    await this.#store.release(k)
  }

  /** Rewrites every recorded response that carries message `msgId` with `rewrite`, also when revokes race. */
  async rewriteCarrying (msgId: string, rewrite: (body: string) => string): Promise<void> {
    for (let attempt = 0; attempt < REWRITE_ATTEMPTS; attempt++) {
      const changes = (await this.#store.carrying(msgId))
        .map(r => ({ ...r, was: r.body, body: rewrite(r.body) }))
        .filter(c => c.body !== c.was)
      if (changes.length === 0 || (await this.#store.rewrite(changes)).length === 0) return
    }
    throw new Error(`recorded responses carrying ${msgId} kept changing: not rewritten after ${REWRITE_ATTEMPTS} attempts`)
  }

  /** Forgets the keys older than 24 hours. */
  async sweep (): Promise<number> {
    return this.#store.sweep(this.#now() - IDEMPOTENCY_TTL_S)
  }
}
