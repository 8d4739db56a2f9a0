import { randomBytes } from 'node:crypto'
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Readable } from 'node:stream'
import { Errors } from '../errors.js'
import { Uploads, type ReceivedUpload, type Span, type UploadRecord } from './uploads.js'

/**
 * Uploaded media under `<dataDir>/media/` (no TIM_S3_BUCKET): the bytes content-addressed
 * in `blobs/<sha256>` (one copy whatever the number of uploads), one record per upload
 * in `uploads/<id>.json`, and `tmp/` for uploads being received. Each record is written
 * to a temporary name and renamed, so a crash never leaves half a record; blobs are
 * renamed into place the same way. Replicas must share this directory.
 */

/** A file in tmp/ untouched this long belongs to no upload in progress. */
const STALE_MS = 60 * 60 * 1000
/** Read ahead in large steps: a download is one long sequential read. */
const READ_CHUNK = 1024 * 1024

export class FileUploads extends Uploads {
  readonly #tmp: string
  readonly #blobs: string
  readonly #uploads: string

  /**
   * Creates the directories and clears what a crash left half-received. Only files idle
   * for an hour: another process on the same data dir may be receiving right now.
   */
  constructor (dir: string, maxBytes: number) {
    super(maxBytes)
    this.#tmp = join(dir, 'tmp')
    this.#blobs = join(dir, 'blobs')
    this.#uploads = join(dir, 'uploads')
    for (const d of [this.#tmp, this.#blobs, this.#uploads]) mkdirSync(d, { recursive: true })
    const stale = Date.now() - STALE_MS
    for (const f of readdirSync(this.#tmp)) {
      const file = join(this.#tmp, f)
      if ((statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < stale) rmSync(file, { force: true })
    }
  }

  protected async stage (body: Readable): Promise<string> {
    const tempFile = join(this.#tmp, randomBytes(16).toString('hex'))
    try {
      await pipeline(body, createWriteStream(tempFile, { flags: 'wx' }))
    } catch (err) {
      await rm(tempFile, { force: true })
      throw err
    }
    return tempFile
  }

  protected async keep (received: ReceivedUpload, record: UploadRecord): Promise<void> {
    try {
      await this.#keep(received, record)
    } catch (err) {
      throw this.failure(err)
    }
  }

  async #keep (received: ReceivedUpload, record: UploadRecord): Promise<void> {
    // Same hash, same bytes: renaming over an existing blob changes nothing readers see.
    await rename(received.staged, this.#blobFile(received.sha256))
    const file = join(this.#uploads, `${record.id}.json`)
    const temp = join(this.#tmp, `${record.id}.json`)
    await writeFile(temp, JSON.stringify(record), { flag: 'wx' })
    await rename(temp, file)
  }

  protected async drop (received: ReceivedUpload): Promise<void> {
    await rm(received.staged, { force: true })
  }

  protected async load (id: string): Promise<UploadRecord | undefined> {
    try {
      return JSON.parse(await readFile(join(this.#uploads, `${id}.json`), 'utf8')) as UploadRecord
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  async open (upload: UploadRecord, span: Span): Promise<Readable> {
    const file = await open(this.#blobFile(upload.sha256), 'r')
    return file.createReadStream({ start: span.start, end: span.end, highWaterMark: READ_CHUNK })
  }

  /** A full disk (or quota) is a condition, 507, not a fault; other errors stay as they are. */
  protected failure (err: unknown): unknown {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'ENOSPC' || code === 'EDQUOT' ? Errors.storageFull('the upload') : err
  }

  #blobFile (sha256: string): string {
    return join(this.#blobs, sha256)
  }
}
