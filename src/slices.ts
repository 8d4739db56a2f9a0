import { Readable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * Long work on the event loop in slices (CONTRACT §12: one client's large request must
 * not hold up the others'): call `slices.next()` between the pieces of a loop and await
 * what it returns when that is a promise, and the loop gives the event loop back once
 * `budgetMs` of work has passed since it last did. (`await undefined` is not free: a
 * promise and a microtask for each of an import's 1000 messages, in each of four loops.)
 */
export interface Slices { next (): Promise<void> | undefined }

/**
 * The work of one slice. Short, because a turn of the event loop accepts ONE new
 * connection (libuv 1.45+, Node 20: no accept() in a loop): while heavy requests run, the
 * loop's turns are their slices, and new connections wait in the kernel's queue one turn
 * each. At 4 ms, a hog reconnecting after every 429 kept ~37 connections queued, and a new
 * client waited ~200 ms to be accepted (light p99 305 ms with 48 hog connections); at 1 ms
 * the queue drains (p99 45 ms). A setImmediate per slice costs a few microseconds.
 */
export const SLICE_MS = 1

export function slices (budgetMs = SLICE_MS): Slices {
  let since = performance.now()
  return {
    next () {
      if (performance.now() - since < budgetMs) return undefined
      return nextTurn().then(() => { since = performance.now() })
    },
  }
}

/** `items` mapped by `fn`, in slices. */
export async function mapInSlices<T, R> (items: readonly T[], fn: (item: T, index: number) => R): Promise<R[]> {
  const s = slices()
  const out: R[] = new Array(items.length)
  for (let i = 0; i < items.length; i++) {
    out[i] = fn(items[i]!, i)
    const turn = s.next()
    if (turn !== undefined) await turn
  }
  return out
}

/**
 * A JSON array as the UTF-8 pieces it was encoded in, sent piece by piece: a 12 MB body
 * written to a socket in one piece held the event loop for 100 ms and more (the copy into
 * the kernel, and the encoding before it). `bytes()` joins the pieces, for whoever must
 * keep the whole (a recorded Idempotency-Key response).
 */
export class JsonPieces extends Readable {
  readonly length: number
  #next = 0

  constructor (readonly pieces: readonly Buffer[]) {
    super()
    this.length = pieces.reduce((n, p) => n + p.length, 0)
  }

  bytes (): Buffer {
    return Buffer.concat(this.pieces as Buffer[], this.length)
  }

  override _read (): void {
    while (this.#next < this.pieces.length) {
      if (!this.push(this.pieces[this.#next++])) return
    }
    this.push(null)
  }
}

/** Bytes of JSON encoded into one piece: big enough that a piece carries many items, small enough to copy in well under a millisecond. */
export const PIECE_BYTES = 64 * 1024

/**
 * A JSON array of `items`, each serialized by `serialize` (JSON.stringify by default),
 * encoded in pieces of about PIECE_BYTES, in slices. Each item's text is encoded straight
 * into its piece: not two buffers per item (2,000 allocations and stream pushes for the
 * answer to an import), nor one long string per piece (a flattened copy of every item).
 */
export async function jsonArrayInSlices<T> (items: readonly T[], serialize: (item: T) => string = JSON.stringify): Promise<JsonPieces> {
  const s = slices()
  const pieces: Buffer[] = []
  let piece = Buffer.allocUnsafe(PIECE_BYTES)
  let used = 0
  const put = (text: string) => {
    // Measured only when it may not fit (a UTF-16 unit is at most 3 bytes of UTF-8): the
    // measure is a pass over the text of its own.
    if (used + text.length * 3 > piece.length) {
      const bytes = Buffer.byteLength(text)
      if (used + bytes > piece.length) {
        pieces.push(piece.subarray(0, used))
        piece = Buffer.allocUnsafe(Math.max(PIECE_BYTES, bytes))
        used = 0
      }
    }
    used += piece.write(text, used)
  }
  put('[')
  for (let i = 0; i < items.length; i++) {
    if (i > 0) put(',')
    put(serialize(items[i]!))
    const turn = s.next()
    if (turn !== undefined) await turn
  }
  put(']')
  pieces.push(piece.subarray(0, used))
  return new JsonPieces(pieces)
}
