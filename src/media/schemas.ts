import { Type, type TSchema } from 'typebox'
import { ConversationParams, ErrorBody } from '../messages/schemas.js'

/** Uploads and downloads as TypeBox schemas: validation, serialization and the OpenAPI document. */

const Opt = <T extends TSchema>(s: T) => Type.Optional(s)
const closed = { additionalProperties: false } as const

export const Upload = Type.Object({
  id: Type.String({ description: 'the upload id (`up_` and 32 hex digits): put it in an element\'s id key' }),
  url: Type.String({ description: '`/media/<id>`: may go in an element\'s url key instead of the id' }),
  size: Type.Integer({ minimum: 0, description: 'bytes stored' }),
  content_type: Type.String({ description: 'the Content-Type it was uploaded with (application/octet-stream when none); downloads answer with it' }),
  sha256: Type.String({ description: 'hex SHA-256 of the bytes; downloads carry it as their ETag' }),
}, { title: 'Upload' })

export const UploadParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 64, description: 'an upload id from POST /media', examples: ['up_0123456789abcdef0123456789abcdef'] }),
})

/** One media type, parameters allowed, multipart not (its parts are never read). */
export const MEDIA_TYPE = /^(?!multipart\/)[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;.*)?$/i

export const UploadQuery = Type.Object({
  content_type: Opt(Type.String({
    pattern: MEDIA_TYPE.source,
    description: 'the file\'s Content-Type, for a client that can only send application/octet-stream or `*/*`; ignored beside any other Content-Type',
    examples: ['image/png'],
  })),
})

const binary = Type.String({ format: 'binary', description: 'the bytes' })
/**
 * The bytes of a download: the upload's own Content-Type, or the remote server's. Declared
 * under the kinds elements carry, so that a generated client reads them as binary.
 */
const bytes = Object.fromEntries(['image/*', 'audio/*', 'video/*', 'application/octet-stream', '*/*'].map(type => [type, { schema: binary }]))

/** Request headers a download honours. */
export const DownloadHeaders = Type.Object({
  range: Opt(Type.String({ description: 'one range, `bytes=first-last`, `bytes=first-` or `bytes=-suffix`; several ranges are ignored (200 with everything). Numbers of any length: a first byte beyond 2^53 is 416, a last byte or suffix beyond the content is trimmed to it' })),
  'if-none-match': Opt(Type.String({ description: 'ETags (or `*`): 304 when one is the current ETag' })),
  'if-range': Opt(Type.String({ description: 'an ETag: Range applies only while it is still the current one' })),
})

const header = (description: string) => Type.String({ description })
const common = {
  'Content-Length': Type.Integer({ minimum: 0, description: 'bytes in this body (absent only for a remote URL whose server did not say)' }),
  ETag: header('`"<sha256>"` of a stored upload; a remote server\'s own ETag, when it sent one'),
  'Accept-Ranges': header('`bytes`'),
  'Content-Disposition': header('file elements: `attachment` with file_elem_file_name (RFC 8187 `filename*`)'),
}

/** The 200, 206 and 304 answers of a download. */
export const DownloadResponses = {
  200: { description: 'the whole content, streamed; Content-Type from the upload, or from the remote server (else application/octet-stream)', headers: common, content: bytes },
  206: { description: 'the one satisfiable range asked for', headers: { ...common, 'Content-Range': header('`bytes first-last/size`') }, content: bytes },
  304: Type.Null({ description: 'If-None-Match names the current ETag' }),
  416: { ...ErrorBody, description: 'the range starts beyond the content, or beyond 2^53 (6017); Content-Range: `bytes */size`' },
}

export const ContentParams = Type.Object({
  ...ConversationParams.properties,
  msgID: Type.String({ minLength: 1, maxLength: 64, description: 'a message_msg_id', examples: ['1-1767225600-12345'] }),
  index: Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1, description: 'the element\'s position in message_elem_array, from 0 (uint32; one the message does not have is 404)', examples: [0] }),
})

export const ContentQuery = Type.Object({
  rendition: Opt(Type.Union([Type.Literal('orig'), Type.Literal('large'), Type.Literal('thumb')], {
    description: 'images: which rendition; by default orig, else large, else thumb (the first the element has)',
  })),
  snapshot: Opt(Type.Boolean({ description: 'videos: true for the snapshot image instead of the video' })),
}, closed)

/** DownloadElemParam (TIMMsgDownloadElemToPath, tim-reference.md §4.4). */
export const DownloadElemParam = Type.Object({
  msg_download_elem_param_type: Opt(Type.Integer({ minimum: 0, maximum: 3, description: 'TIMDownloadType: 0 video snapshot, 1 file, 2 video, 3 sound. Images have none: any value, or none, finds them' })),
  msg_download_elem_param_id: Opt(Type.String({ description: 'the element\'s id key (an upload id, or the id imported history carries)' })),
  msg_download_elem_param_url: Opt(Type.String({ description: 'the element\'s url key' })),
  msg_download_elem_param_flag: Opt(Type.Unknown({ description: 'SDK ≤ 6 download flag: not used, so accepted and ignored whatever its value' })),
  msg_download_elem_param_business_id: Opt(Type.Unknown({ description: 'SDK business id: not used, so accepted and ignored whatever its value' })),
}, { ...closed, title: 'DownloadElemParam', description: 'At least one of _id and _url, as the element carries it' })
