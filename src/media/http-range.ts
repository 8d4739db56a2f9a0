/**
 * The conditional and range parts of HTTP (RFC 9110 §13-14) that downloads answer,
 * and the Content-Disposition of file elements (RFC 6266 with RFC 8187's filename*).
 */

/**
 * One byte range as asked: `first-last`, `first-` or the last `suffix` bytes. A number
 * beyond 2^53−1 is Infinity: no content is that long (TIM_MEDIA_MAX_BYTES is below it),
 * so a first that far is past the end, and a last or a suffix that far is all of it.
 */
export type RangeSpec = { first: number, last?: number } | { suffix: number }

/** The inclusive span of a range within content of a known size. */
export interface Span { start: number, end: number }

const SINGLE = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i

/** a < b for decimal digit strings of any length (no rounding, no quadratic BigInt parse). */
function less (a: string, b: string): boolean {
  const [x, y] = [a.replace(/^0+/, ''), b.replace(/^0+/, '')]
  return x.length !== y.length ? x.length < y.length : x < y
}

/** Digits as a number, never rounded: beyond 2^53−1 it is Infinity. */
function exact (digits: string): number {
  const n = Number(digits)
  return Number.isSafeInteger(n) ? n : Infinity
}

/**
 * The one range a Range header asks for, or undefined when the header is to be ignored:
 * absent, another unit, malformed, or several ranges. RFC 9110 §14.2 lets a server ignore
 * Range; several ranges get the whole content (200) rather than multipart/byteranges,
 * which few clients of a download want and which would defeat Content-Length.
 */
export function parseRange (header: string | undefined): RangeSpec | undefined {
  if (header === undefined) return undefined
  const m = SINGLE.exec(header)
  if (m === null) return undefined
  const [, first = '', last = ''] = m
  if (first === '' && last === '') return undefined
  if (first === '') return { suffix: exact(last) }
  // A last before its first makes the header invalid; compared exactly, whatever the length.
  if (last !== '' && less(last, first)) return undefined
  return last === '' ? { first: exact(first) } : { first: exact(first), last: exact(last) }
}

/** A first byte beyond 2^53−1: past the end of any content, whatever its size. */
export const beyondAnyContent = (spec: RangeSpec | undefined): boolean =>
  spec !== undefined && 'first' in spec && spec.first === Infinity

/** Where `spec` falls in `size` bytes, or undefined when no byte of it exists (416). */
export function resolveRange (spec: RangeSpec, size: number): Span | undefined {
  if ('suffix' in spec) {
    if (spec.suffix === 0 || size === 0) return undefined
    return { start: Math.max(0, size - spec.suffix), end: size - 1 }
  }
  if (spec.first >= size) return undefined
  return { start: spec.first, end: Math.min(spec.last ?? size - 1, size - 1) }
}

/** The spec as a Range header for an upstream request: what is beyond 2^53−1 is "to the end". */
export function rangeHeader (spec: RangeSpec): string {
  if ('suffix' in spec) return spec.suffix === Infinity ? 'bytes=0-' : `bytes=-${spec.suffix}`
  return `bytes=${spec.first}-${spec.last === undefined || spec.last === Infinity ? '' : spec.last}`
}

const opaque = (tag: string) => tag.trim().replace(/^W\//, '')

/** If-None-Match names `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`. */
export function noneMatch (header: string | undefined, etag: string | undefined): boolean {
  if (header === undefined || etag === undefined) return false
  if (header.trim() === '*') return true
  return header.split(',').some(tag => opaque(tag) === opaque(etag))
}

/** If-Range lets the range through: absent, or the current strong ETag (a date cannot be checked). */
export function ifRangeAllows (header: string | undefined, etag: string | undefined): boolean {
  if (header === undefined) return true
  return etag !== undefined && !etag.startsWith('W/') && header.trim() === etag
}

const ATTR_CHAR = /^[A-Za-z0-9!#$&+\-.^_`|~]$/

/** `attachment` with an ASCII fallback name and the exact name as UTF-8 (RFC 8187). */
export function contentDisposition (fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\/%]/g, '_')
  // Buffer turns a lone surrogate into U+FFFD instead of throwing like encodeURIComponent.
  const encoded = [...Buffer.from(fileName, 'utf8')]
    .map(b => ATTR_CHAR.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)
    .join('')
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`
}
