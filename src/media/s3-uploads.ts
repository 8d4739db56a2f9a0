import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import { DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { UploadStore } from '../../db/store.js'
import { MediaUnavailable, Uploads, type ReceivedUpload, type Span, type UploadRecord } from './uploads.js'

/**
 * Uploaded media in S3-compatible object storage (TIM_S3_BUCKET, CONTRACT §11): the bytes
 * of each upload in one object, `media/<32 hex>`, streamed in as they arrive (multipart
 * above PART_SIZE); the records in the database (UploadStore), so that every replica
 * finds every upload and no replica needs a shared directory. Objects are not
 * deduplicated by hash as files are: the hash is known only once the bytes are stored.
 */

export interface S3Settings {
  bucket: string
  /** MinIO, R2, s3rver…: their URL; else AWS's endpoint of the region. */
  endpoint?: string | undefined
  region: string
  /** bucket in the path (http://host/bucket/key) rather than the host name; default: with an endpoint. */
  forcePathStyle?: boolean | undefined
  /** Both or neither; neither: the SDK's chain (AWS_* variables, profile, instance role). */
  accessKeyId?: string | undefined
  secretAccessKey?: string | undefined
  sessionToken?: string | undefined
}

/** Parts of a multipart upload, and how many are sent at once: an upload holds at most their product in memory. */
const PART_SIZE = 5 * 1024 * 1024
const QUEUE_SIZE = 2
/** Connections to the bucket per replica. */
const MAX_SOCKETS = 256
/** Where the objects are in the bucket. */
const PREFIX = 'media/'

export function s3Client (s: S3Settings): S3Client {
  return new S3Client({
    region: s.region,
    ...(s.endpoint !== undefined && { endpoint: s.endpoint }),
    forcePathStyle: s.forcePathStyle ?? s.endpoint !== undefined,
    ...(s.accessKeyId !== undefined && s.secretAccessKey !== undefined && {
      credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, ...(s.sessionToken !== undefined && { sessionToken: s.sessionToken }) },
    }),
    // Checksums only where S3 requires them: S3-compatible servers (MinIO, R2, older
    // releases) do not all know the SDK's default CRC32 trailers. The sha256 is ours.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A bucket that does not connect, or answer (the headers: a part's upload included),
    // fails the request soon, not after the OS's minutes. Once a download's body flows it
    // has no time limit: a slow client holds it back. Sockets: one per download in
    // progress, beyond the SDK's default of 50.
    requestHandler: {
      connectionTimeout: 5000,
      requestTimeout: 60_000,
      throwOnRequestTimeout: true,
      httpAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
      httpsAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
    },
  })
}

/** An upload's record as this storage loads it. */
type StoredRecord = UploadRecord & { objectKey: string }

export interface S3UploadsOptions {
  client: S3Client
  bucket: string
  records: UploadStore
  maxBytes: number
  /** A staged object that could not be removed (it stays in the bucket, unreferenced). */
  onLeftover?: (key: string, err: unknown) => void
}

export class S3Uploads extends Uploads {
  readonly #client: S3Client
  readonly #bucket: string
  readonly #records: UploadStore
  readonly #onLeftover: (key: string, err: unknown) => void

  constructor (opts: S3UploadsOptions) {
    super(opts.maxBytes)
    this.#client = opts.client
    this.#bucket = opts.bucket
    this.#records = opts.records
    this.#onLeftover = opts.onLeftover ?? (() => {})
  }

  /** Multipart from the first full part on; a failed or over-the-limit body aborts it (lib-storage), so nothing stays. */
  protected async stage (body: Readable): Promise<string> {
    const key = `${PREFIX}${randomBytes(16).toString('hex')}`
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: key, Body: body },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
    })
    try {
      await upload.done()
    } catch (err) {
      // The body's own failure (over the limit, the client gone) is the one to report,
      // not what aborting the multipart upload ran into after it.
      throw body.errored ?? err
    }
    return key
  }

  protected async keep (received: ReceivedUpload, record: UploadRecord): Promise<void> {
    await this.#records.insert({
      id: record.id,
      owner: record.owner,
      sha256: record.sha256,
      size: record.size,
      contentType: record.content_type,
      objectKey: received.staged,
      created: record.created,
    })
  }

  protected async drop (received: ReceivedUpload): Promise<void> {
    // Best effort: the answer does not wait on (or fail for) an object nobody references.
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: received.staged }))
      .catch((err: unknown) => this.#onLeftover(received.staged, err))
  }

  /** The record with its object key (cached with it; answers pick their fields, the key never reaches a client). */
  protected async load (id: string): Promise<StoredRecord | undefined> {
    const u = await this.#records.get(id)
    if (u === undefined) return undefined
    return { id: u.id, owner: u.owner, sha256: u.sha256, size: u.size, content_type: u.contentType, created: u.created, objectKey: u.objectKey }
  }

  /** A ranged GET of the object: S3 sends only the bytes asked for. */
  async open (upload: UploadRecord, span: Span): Promise<Readable> {
    const key = (upload as Partial<StoredRecord>).objectKey ?? (await this.#records.get(upload.id))?.objectKey
    if (key === undefined) throw new Error(`upload ${upload.id} has no record`)
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key, Range: `bytes=${span.start}-${span.end}` }))
      return res.Body as Readable
    } catch (err) {
      throw this.failure(err)
    }
  }

  protected failure (err: unknown): unknown {
    if (err instanceof MediaUnavailable) return err
    const e = err as { name?: string, code?: string, message?: string }
    // A record whose object is gone is a fault (500), as a missing file is: retrying will not help.
    if (e.name === 'NoSuchKey') return new Error(`object storage (bucket ${this.#bucket}): the object of an upload is missing`, { cause: err })
    return new MediaUnavailable(`object storage (bucket ${this.#bucket}): ${e.code ?? e.name ?? 'Error'}: ${e.message ?? String(err)}`, { cause: err })
  }
}
