import { createHash, randomBytes } from 'node:crypto'
import { finished } from 'node:stream/promises'
import { Transform, type Readable } from 'node:stream'
import { Errors, TimError } from '../errors.js'
import { isGeneric, sniff, SNIFF_BYTES } from './sniff.js'

/**
 * Uploaded media: what every storage shares (limits, sniffing, hashing while the bytes
 * stream, the record cache). Where the bytes and records go is a subclass's:
 * ./file-uploads.ts keeps both under TIM_DATA_DIR, ./s3-uploads.ts the bytes in a bucket
 * and the records in the database (TIM_S3_BUCKET, CONTRACT §11).
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

const UPLOAD_ID = /^up_[0-9a-f]{32}$/
/** An element value that names one of our uploads: the id, or the url POST /media answered. */
const UPLOAD_REF = /^(?:\/media\/)?(up_[0-9a-f]{32})$/

/** Bytes received and hashed, waiting to be committed (or discarded). */
export class ReceivedUpload {
  /** Set once its record is written: the bytes are the upload's then, and stay. */
  committed = false

  /** `staged`: where the bytes wait (a file in tmp/, an object key), as the storage that received them knows it. */
  constructor (readonly staged: string, readonly sha256: string, readonly size: number, readonly contentType: string) {}

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
  /** Bytes so far. Not `size`: lib-storage would take a body's `size` for its whole length. */
  seen = 0
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
    return (this.declaredLength ?? 0) > this.#limit || this.seen > this.#limit ? this.tooLarge() : undefined
  }

  #pass (chunk: Buffer, done: (err?: Error | null, data?: Buffer) => void): void {
    if (this.seen > this.#limit) return done(this.tooLarge())
    this.hash.update(chunk)
    done(null, chunk)
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.seen += chunk.length
    if (this.contentType !== undefined) return this.#pass(chunk, done)
    this.#head.push(chunk)
    if (this.seen < SNIFF_BYTES) return done()
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

/** The object storage did not answer, or refused the gateway: 503, with Retry-After (src/plugins/errors.ts). */
export class MediaUnavailable extends Error {
  override name = 'MediaUnavailable'
}

/** Upload records kept in memory (oldest dropped first). */
const RECORD_CACHE_SIZE = 10_000

/** Bytes of an upload, both ends inclusive. */
export interface Span { start: number, end: number }

export abstract class Uploads {
  readonly #maxBytes: number
  readonly #records = new Map<string, UploadRecord>()

  constructor (maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  /** The most bytes an upload of `contentType` may have. */
  limitFor (contentType: string): number {
    return /^(image|audio)\//i.test(contentType) ? IMAGE_SOUND_MAX_BYTES : this.#maxBytes
  }

  /**
   * Streams `source` to the storage (stage), hashing as it goes; over the limit of its
   * type it stops reading, removes what it wrote and throws 413. Never holds the body in
   * memory (object storage: a few parts of it). A generic `contentType`
   * (application/octet-stream, `*∕*`) is replaced by the kind the first bytes show (CONTRACT §6).
   */
  async receive (source: Readable, contentType: string, declaredLength: number | undefined): Promise<ReceivedUpload> {
    const known = isGeneric(contentType) ? undefined : contentType
    // Before the first bytes show the kind, only the largest limit is sure to apply.
    const limit = known === undefined ? Math.max(IMAGE_SOUND_MAX_BYTES, this.#maxBytes) : this.limitFor(known)
    if (declaredLength !== undefined && declaredLength > limit) throw Errors.mediaTooLarge(limit, contentType)
    const meter = new Meter(known, type => this.limitFor(type), declaredLength)
    // The source is piped, not part of the pipeline: on a 413 it is only unpiped, so the
    // socket survives to carry the answer (Fastify then closes the connection).
    source.pipe(meter)
    let interrupted = false
    const sourceDone = finished(source).catch((err: unknown) => {
      interrupted = true
      meter.destroy(err as Error)
    })
    let staged: string
    try {
      staged = await this.stage(meter)
    } catch (err) {
      source.unpipe(meter)
      meter.destroy()
      // A client that went away gets a 4xx in the log, not a server fault.
      if (interrupted) throw Errors.invalidParameter(`the upload was interrupted: ${(err as Error).message}`)
      throw err instanceof TimError ? err : this.failure(err)
    }
    await sourceDone
    return new ReceivedUpload(staged, meter.hash.digest('hex'), meter.seen, meter.contentType ?? contentType)
  }

  /** Records the upload under a new id; its bytes are its own from then on. */
  async commit (received: ReceivedUpload, owner: string, now: number): Promise<UploadRecord> {
    const record: UploadRecord = {
      id: `up_${randomBytes(16).toString('hex')}`,
      owner,
      sha256: received.sha256,
      size: received.size,
      content_type: received.contentType,
      created: now,
    }
    await this.keep(received, record)
    received.committed = true
    return record
  }

  /** Removes received bytes that were not committed (a replayed Idempotency-Key, an error). */
  async discard (received: ReceivedUpload): Promise<void> {
    if (!received.committed) await this.drop(received)
  }

  /** The upload id an element's id or url value names, or undefined when it is not one of ours. */
  uploadIdOf (ref: string): string | undefined {
    return UPLOAD_REF.exec(ref)?.[1]
  }

  async get (id: string): Promise<UploadRecord | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined
    const cached = this.#records.get(id)
    if (cached !== undefined) return cached
    const record = await this.load(id)
    if (record === undefined) return undefined
    // Records never change once written: a download or a send need not read them again.
    if (this.#records.size >= RECORD_CACHE_SIZE) this.#records.delete(this.#records.keys().next().value!)
    this.#records.set(id, record)
    return record
  }

  async ownerOf (id: string): Promise<string | undefined> {
    return (await this.get(id))?.owner
  }

  /**
   * A stream of the upload's bytes in `span`, opened before anything is answered: a
   * missing file or an unreachable bucket is a clean error answer, not a cut-off one.
   */
  abstract open (upload: UploadRecord, span: Span): Promise<Readable>
  /** Writes `body` where it waits for commit; answers where (ReceivedUpload.staged). On failure, leaves nothing behind. */
  protected abstract stage (body: Readable): Promise<string>
  /** Makes staged bytes the upload's and writes its record; its failures as the conditions they are. */
  protected abstract keep (received: ReceivedUpload, record: UploadRecord): Promise<void>
  protected abstract drop (received: ReceivedUpload): Promise<void>
  protected abstract load (id: string): Promise<UploadRecord | undefined>
  /** A failure of the storage as the condition it reports (507, 503), or as it is. */
  protected abstract failure (err: unknown): unknown
}
