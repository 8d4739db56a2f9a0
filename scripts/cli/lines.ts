import { createReadStream } from 'node:fs'

/** One line of a file: its 1-based number and its text without the line break. */
export interface Line {
  no: number
  text: string
}

/** A line that cannot be sent as it is: too long, or not UTF-8. */
export class LineError extends Error {
  override name = 'LineError'
  constructor (readonly line: number, why: string) {
    super(`line ${line} ${why}`)
  }
}

/**
 * The lines of `path` (LF or CRLF), read as they are consumed. `onChunk` sees every byte
 * (to hash the file on the way). A line longer than `maxBytes` is a LineError as soon as it
 * is: a file without line breaks is never held in memory whole.
 */
export async function * readLines (path: string, maxBytes: number, onChunk?: (chunk: Buffer) => void): AsyncGenerator<Line> {
  const utf8 = new TextDecoder('utf-8', { fatal: true })
  const decode = (buf: Buffer, no: number): string => {
    const end = buf.length > 0 && buf[buf.length - 1] === 13 ? buf.length - 1 : buf.length
    try {
      return utf8.decode(buf.subarray(0, end))
    } catch {
      throw new LineError(no, 'is not valid UTF-8')
    }
  }
  let pending: Buffer[] = []
  let pendingBytes = 0
  let no = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    onChunk?.(chunk)
    let start = 0
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl)
      const line = pending.length === 0 ? piece : Buffer.concat([...pending, piece])
      pending = []
      pendingBytes = 0
      start = nl + 1
      no++
      if (line.length > maxBytes + 1) throw new LineError(no, `is ${line.length} bytes long: over ${maxBytes}`)
      yield { no, text: decode(line, no) }
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start))
      pendingBytes += chunk.length - start
      if (pendingBytes > maxBytes + 1) throw new LineError(no + 1, `is over ${maxBytes} bytes long`)
    }
  }
  if (pendingBytes > 0) {
    no++
    yield { no, text: decode(Buffer.concat(pending), no) }
  }
}
