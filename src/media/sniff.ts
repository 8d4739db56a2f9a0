/**
 * The kind of an upload sent without one (CONTRACT §6): `application/octet-stream` or
 * `*∕*`, which is what generated clients send for a Blob, is read from the file's first
 * bytes. Only signatures that cannot be mistaken: anything else stays
 * application/octet-stream.
 */

/** How many first bytes the signatures below need. */
export const SNIFF_BYTES = 12

/** Content-Types that say nothing about the bytes: the kind is found (or given) instead. */
export const isGeneric = (contentType: string): boolean => /^(application\/octet-stream|\*\/\*)\s*(;.*)?$/i.test(contentType.trim())

const ascii = (head: Buffer, at: number, text: string): boolean => head.subarray(at, at + text.length).toString('latin1') === text
const bytes = (head: Buffer, at: number, values: number[]): boolean => values.every((v, i) => head[at + i] === v)

/** ISO base media (MP4, QuickTime, M4A, HEIC): the major brand after `ftyp`. */
function isoMedia (head: Buffer): string | undefined {
  if (!ascii(head, 4, 'ftyp')) return undefined
  const brand = head.subarray(8, 12).toString('latin1')
  if (brand === 'M4A ' || brand === 'M4B ') return 'audio/mp4'
  if (brand === 'qt  ') return 'video/quicktime'
  if (brand === 'heic' || brand === 'heix' || brand === 'mif1') return 'image/heic'
  if (brand === 'avif') return 'image/avif'
  return 'video/mp4'
}

/** RIFF containers: WebP, WAVE, AVI. */
function riff (head: Buffer): string | undefined {
  if (!ascii(head, 0, 'RIFF')) return undefined
  const form = head.subarray(8, 12).toString('latin1')
  return form === 'WEBP' ? 'image/webp' : form === 'WAVE' ? 'audio/wav' : form === 'AVI ' ? 'video/x-msvideo' : undefined
}

const SIGNATURES: ReadonlyArray<[(head: Buffer) => boolean, string]> = [
  [h => bytes(h, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), 'image/png'],
  [h => bytes(h, 0, [0xff, 0xd8, 0xff]), 'image/jpeg'],
  [h => ascii(h, 0, 'GIF87a') || ascii(h, 0, 'GIF89a'), 'image/gif'],
  [h => ascii(h, 0, '#!AMR'), 'audio/amr'],
  [h => ascii(h, 0, 'ID3') || (h[0] === 0xff && ((h[1] ?? 0) & 0xe6) === 0xe2), 'audio/mpeg'],
  [h => ascii(h, 0, 'OggS'), 'audio/ogg'],
  [h => ascii(h, 0, 'fLaC'), 'audio/flac'],
  [h => bytes(h, 0, [0x1a, 0x45, 0xdf, 0xa3]), 'video/webm'],
  [h => ascii(h, 0, '%PDF-'), 'application/pdf'],
]

/** The Content-Type the first bytes of a file show, or application/octet-stream. */
export function sniff (head: Buffer): string {
  return riff(head) ?? isoMedia(head) ?? SIGNATURES.find(([matches]) => matches(head))?.[1] ?? 'application/octet-stream'
}
