import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { finished, pipeline } from 'node:stream/promises'
import { Transform, type Readable } from 'node:stream'
import { Errors, type TimError } from '../errors.js'
import { isGeneric, sniff, SNIFF_BYTES } from './sniff.js'

/**
 * Uploaded media under `<dataDir>/media/`: the bytes content-addressed in
 * `blobs/<sha256>` (one copy whatever the number of uploads), one record per upload in
 * `uploads/<id>.json`, and `tmp/` for uploads being received.
 *
 * Upload records live on the filesystem rather than behind the store port: the SQLite
 * and PostgreSQL adapters of that port are being written at the same time, and the
 * records only ever need a lookup by id. Moving them into the port later is a change
 * to this class alone. Each record is written to a temporary name and renamed, so a
 * crash never leaves half a record; blobs are renamed into place the same way.
 */

export interface UploadRecord {
  id: string
  /** The identity the upload acted as (X-TIM-On-Behalf-Of included). */
  owner: string
  sha256: string
  size: number
  content_type: string
  /** Unix seconds. */
  created: number
}

/** Images and sounds: 28 MB whatever TIM_MEDIA_MAX_BYTES says (the SDK's own limit). */
export const IMAGE_SOUND_MAX_BYTES = 28 * 1024 * 1024

/** A file in tmp/ untouched this long belongs to no upload in progress. */
const STALE_MS = 60 * 60 * 1000
const UPLOAD_ID = /^up_[0-9a-f]{32}$/
/** An element value that names one of our uploads: the id, or the url POST /media answered. */
const UPLOAD_REF = /^(?:\/media\/)?(up_[0-9a-f]{32})$/

/** Bytes received and hashed, waiting in tmp/ to be committed (or discarded). */
export class ReceivedUpload {
  constructor (readonly tempFile: string, readonly sha256: string, readonly size: number, readonly contentType: string) {}

  /** What an Idempotency-Key's request hash sees: the bytes and their type, not where they wait. */
  toJSON (): Record<string, unknown> {
    return { sha256: this.sha256, size: this.size, content_type: this.contentType }
  }
}

/**
 * Counts and hashes what passes, and fails once more than the limit of its kind has. A
 * Meter without a kind holds the first bytes back until they show one (sniff).
 */
class Meter extends Transform {
  readonly hash = createHash('sha256')
  size = 0
  #head: Buffer[] = []
  #limit = Infinity

  constructor (public contentType: string | undefined, readonly limitFor: (contentType: string) => number, readonly declaredLength: number | undefined) {
    super()
    if (contentType !== undefined) this.#limit = limitFor(contentType)
  }

  tooLarge (): TimError {
    return Errors.mediaTooLarge(this.#limit, this.contentType ?? 'application/octet-stream')
  }

  /** The kind is known: its limit applies, to the declared length too. */
  #kindOf (head: Buffer): Error | undefined {
    this.contentType = sniff(head)
    this.#limit = this.limitFor(this.contentType)
    return (this.declaredLength ?? 0) > this.#limit || this.size > this.#limit ? this.tooLarge() : undefined
  }

  #pass (chunk: Buffer, done: (err?: Error | null, data?: Buffer) => void): void {
    if (this.size > this.#limit) return done(this.tooLarge())
    this.hash.update(chunk)
    done(null, chunk)
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.size += chunk.length
    if (this.contentType !== undefined) return this.#pass(chunk, done)
    this.#head.push(chunk)
    if (this.size < SNIFF_BYTES) return done()
    const head = Buffer.concat(this.#head)
    this.#head = []
    const err = this.#kindOf(head)
    if (err !== undefined) return done(err)
    this.#pass(head, done)
  }

  override _flush (done: (err?: Error | null, data?: Buffer) => void): void {
    if (this.contentType !== undefined) return done()
    // A file shorter than any signature.
    const head = Buffer.concat(this.#head)
    this.#kindOf(head)
    this.hash.update(head)
    done(null, head)
  }
}

/** A full disk (or quota) is a condition, 507, not a fault; other errors stay as they are. */
const asCondition = (err: unknown, what: string): unknown => {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOSPC' || code === 'EDQUOT' ? Errors.storageFull(what) : err
}

/** Upload records kept in memory (oldest dropped first). */
const RECORD_CACHE_SIZE = 10_000

export class UploadStore {
  readonly #tmp: string
  readonly #blobs: string
  readonly #uploads: string
  readonly #maxBytes: number
  readonly #records = new Map<string, UploadRecord>()

  /**
   * Creates the directories and clears what a crash left half-received. Only files idle
   * for an hour: another process on the same data dir may be receiving right now.
   */
  constructor (dir: string, maxBytes: number) {
    this.#tmp = join(dir, 'tmp')
    this.#blobs = join(dir, 'blobs')
    this.#uploads = join(dir, 'uploads')
    this.#maxBytes = maxBytes
    for (const d of [this.#tmp, this.#blobs, this.#uploads]) mkdirSync(d, { recursive: true })
    const stale = Date.now() - STALE_MS
    for (const f of readdirSync(this.#tmp)) {
      const file = join(this.#tmp, f)
      if ((statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < stale) rmSync(file, { force: true })
    }
  }

  /** The most bytes an upload of `contentType` may have. */
  limitFor (contentType: string): number {
    return /^(image|audio)\//i.test(contentType) ? IMAGE_SOUND_MAX_BYTES : this.#maxBytes
  }

  /**
   * Streams `source` into tmp/, hashing as it goes; over the limit of its type it stops
   * reading, removes what it wrote and throws 413. Never holds the body in memory. A
   * generic `contentType` (application/octet-stream, `*∕*`) is replaced by the kind the
   * first bytes show (CONTRACT §6).
   */
  async receive (source: Readable, contentType: string, declaredLength: number | undefined): Promise<ReceivedUpload> {
    const known = isGeneric(contentType) ? undefined : contentType
    // Before the first bytes show the kind, only the largest limit is sure to apply.
    const limit = known === undefined ? Math.max(IMAGE_SOUND_MAX_BYTES, this.#maxBytes) : this.limitFor(known)
    if (declaredLength !== undefined && declaredLength > limit) throw Errors.mediaTooLarge(limit, contentType)
    const meter = new Meter(known, type => this.limitFor(type), declaredLength)
    const tempFile = join(this.#tmp, randomBytes(16).toString('hex'))
    // The source is piped, not part of the pipeline: on a 413 it is only unpiped, so the
    // socket survives to carry the answer (Fastify then closes the connection).
    source.pipe(meter)
    let interrupted = false
    const sourceDone = finished(source).catch((err: unknown) => {
      interrupted = true
      meter.destroy(err as Error)
    })
    try {
      await pipeline(meter, createWriteStream(tempFile, { flags: 'wx' }))
    } catch (err) {
      source.unpipe(meter)
      await rm(tempFile, { force: true })
      // A client that went away gets a 4xx in the log, not a server fault.
      if (interrupted) throw Errors.invalidParameter(`the upload was interrupted: ${(err as Error).message}`)
      throw asCondition(err, 'the upload')
    }
    await sourceDone
    return new ReceivedUpload(tempFile, meter.hash.digest('hex'), meter.size, meter.contentType ?? contentType)
  }

  /** Moves received bytes to their blob (deduplicated by hash) and records the upload. */
  async commit (received: ReceivedUpload, owner: string, now: number): Promise<UploadRecord> {
    try {
      return await this.#commit(received, owner, now)
    } catch (err) {
      throw asCondition(err, 'the upload')
    }
  }

  async #commit (received: ReceivedUpload, owner: string, now: number): Promise<UploadRecord> {
    // Same hash, same bytes: renaming over an existing blob changes nothing readers see.
    await rename(received.tempFile, this.blobFile(received.sha256))
    const record: UploadRecord = {
      id: `up_${randomBytes(16).toString('hex')}`,
      owner,
      sha256: received.sha256,
      size: received.size,
      content_type: received.contentType,
      created: now,
    }
    const file = join(this.#uploads, `${record.id}.json`)
    const temp = join(this.#tmp, `${record.id}.json`)
    await writeFile(temp, JSON.stringify(record), { flag: 'wx' })
    await rename(temp, file)
    return record
  }

  /** Removes received bytes that were not committed (a replayed Idempotency-Key, an error). */
  async discard (received: ReceivedUpload): Promise<void> {
    await rm(received.tempFile, { force: true })
  }

  /** The upload id an element's id or url value names, or undefined when it is not one of ours. */
  uploadIdOf (ref: string): string | undefined {
    return UPLOAD_REF.exec(ref)?.[1]
  }

  async get (id: string): Promise<UploadRecord | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined
    const cached = this.#records.get(id)
    if (cached !== undefined) return cached
    try {
      const record = JSON.parse(await readFile(join(this.#uploads, `${id}.json`), 'utf8')) as UploadRecord
      // Records never change once written: a download or a send need not read the file again.
      if (this.#records.size >= RECORD_CACHE_SIZE) this.#records.delete(this.#records.keys().next().value!)
      this.#records.set(id, record)
      return record
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async ownerOf (id: string): Promise<string | undefined> {
    return (await this.get(id))?.owner
  }

  blobFile (sha256: string): string {
    return join(this.#blobs, sha256)
  }
}
