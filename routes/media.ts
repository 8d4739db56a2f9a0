import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import type { FastifyError, FastifyRequest } from 'fastify'
import type { Readable } from 'node:stream'
import { Errors } from '../src/errors.js'
import { sendContent } from '../src/media/respond.js'
import { DownloadHeaders, DownloadResponses, MEDIA_TYPE, Upload, UploadParams, UploadQuery } from '../src/media/schemas.js'
import { isGeneric } from '../src/media/sniff.js'
import { ReceivedUpload, type UploadRecord } from '../src/media/uploads.js'
import { ErrorBody } from '../src/messages/schemas.js'
import { downloadLimited, errors } from './responses.js'

const tags = ['media']
const view = (u: UploadRecord) => ({ id: u.id, url: `/media/${u.id}`, size: u.size, content_type: u.content_type, sha256: u.sha256 })

/**
 * POST /media and GET /media/{id}. This plugin's context reads every request body as
 * raw bytes streamed to disk: the JSON parsers of the rest of the API do not apply here,
 * and no other route sees the catch-all parser.
 */
const mediaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', async (request: FastifyRequest, payload: Readable) => {
    const header = request.headers['content-type']?.trim() ?? 'application/octet-stream'
    if (/^multipart\//i.test(header)) {
      throw Errors.mediaType('multipart bodies are not read: send the file\'s bytes as the body with their own Content-Type (curl --data-binary @file -H "Content-Type: image/png")')
    }
    // The query is not validated yet when the body is parsed: the kind must be known while the bytes arrive.
    const given = (request.query as { content_type?: unknown }).content_type
    if (given !== undefined && (typeof given !== 'string' || !MEDIA_TYPE.test(given))) {
      throw Errors.invalidParameter('content_type must be one media type such as image/png (not multipart/*)')
    }
    const type = isGeneric(header) && given !== undefined ? given : header
    const length = request.headers['content-length']
    return app.uploads.receive(payload, type, length === undefined ? undefined : Number(length))
  })
  // Received bytes that were not committed (an error, a replayed Idempotency-Key) go
  // before the answer leaves, so no client sees them linger.
  app.addHook('onSend', async (request) => {
    if (request.body instanceof ReceivedUpload) await app.uploads.discard(request.body)
  })
  app.setErrorHandler((err: FastifyError) => {
    // The app's handler would say "must be application/json"; any well-formed type is fine here.
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') throw Errors.mediaType('the Content-Type is not a valid media type')
    throw err
  })

  app.post('/media', {
    config: { idempotent: true, upload: true },
    schema: {
      tags,
      operationId: 'uploadMedia',
      summary: 'Upload a file for a media element',
      description: 'The file\'s bytes are the whole body, typed by Content-Type: `curl --data-binary @photo.png -H "Content-Type: image/png"` (multipart/form-data is refused, 415). ' +
        'Sent as application/octet-stream or `*/*` (what generated clients send for a Blob), the kind is `?content_type=` if given, else what the file\'s first bytes show (PNG, JPEG, GIF, WebP, HEIC, MP3, AAC/M4A, AMR, Ogg, FLAC, WAV, MP4, QuickTime, WebM, AVI, PDF), else application/octet-stream. ' +
        'image/* and audio/* up to 28 MB, anything else up to TIM_MEDIA_MAX_BYTES (413 beyond). ' +
        'Streams the body to content-addressed storage (identical bytes are kept once) and answers the upload. ' +
        'Its `id` (or `url`) goes into an image, sound, file or video element\'s id (or url) key; only the uploader (or the admin) may send it. ' +
        'Honours Idempotency-Key (the request is the bytes and their Content-Type).',
      // No body schema: the body is the bytes (the document declares them, see src/openapi/document.ts).
      querystring: UploadQuery,
      response: {
        201: {
          description: 'the upload',
          headers: { Location: Type.String({ description: '`/media/<id>`: where to download it' }) },
          content: { 'application/json': { schema: Upload } },
        },
        ...errors(400, 401, 409),
        413: { ...ErrorBody, description: 'the upload is over its limit: image/* and audio/* 28 MB, anything else TIM_MEDIA_MAX_BYTES (7005)' },
        415: { ...ErrorBody, description: 'a multipart/* or malformed Content-Type (6017)' },
      },
    },
  }, async (request, reply) => {
    const received = request.body as ReceivedUpload | undefined
    if (received === undefined || received.size === 0) throw Errors.mediaEmpty()
    const upload = await app.uploads.commit(received, request.identity.actAs, app.messages.now())
    return reply.code(201).header('location', `/media/${upload.id}`).send(view(upload))
  })

  app.get('/media/:id', {
    // Fastify's HEAD twin would read the whole file to discard it.
    exposeHeadRoute: false,
    config: { download: true },
    schema: {
      tags,
      operationId: 'getMedia',
      summary: 'Download one of the caller\'s own uploads',
      description: 'The uploader (or the admin) only; anyone else gets 404. Ranges and ETag as for element downloads.',
      params: UploadParams,
      headers: DownloadHeaders,
      response: { ...DownloadResponses, ...errors(400, 401, 404), 429: downloadLimited },
    },
  }, async (request, reply) => sendContent(request, reply, await app.downloads.ofUpload(request.identity, request.params.id), app.upstream))
}

export default mediaRoutes
