import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sendContent } from '../src/media/respond.js'
import { ContentParams, ContentQuery, DownloadElemParam, DownloadHeaders, DownloadResponses } from '../src/media/schemas.js'
import { ErrorBody } from '../src/messages/schemas.js'
import { downloadLimited, errors, example } from './responses.js'

const tags = ['media']
const refused = { ...ErrorBody, description: 'a group the caller is not in (10007); a remote URL the gateway will not fetch (6010): not http(s), not allow-listed, or a forbidden address' }
const notFound = { ...ErrorBody, description: 'no such message the caller may see, no such element, or nothing to download in it (6021)' }

/** TIMMsgDownloadElemToPath: an element's bytes, by position or by the SDK's parameter. */
const downloadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/conversations/:conversationID/messages/:msgID/elements/:index/content', {
    // Fastify's HEAD twin would fetch the whole content to discard it.
    exposeHeadRoute: false,
    config: { download: true },
    schema: {
      tags,
      operationId: 'downloadElement',
      summary: 'TIMMsgDownloadElemToPath: an element\'s content',
      description: 'The bytes of an image, sound, file or video element of a message the caller may see: an upload the gateway stores, ' +
        'or the element\'s remote URL fetched through the gateway (TIM_DOWNLOAD_ALLOWED_HOSTS, never loopback/private/link-local/metadata addresses, redirects checked the same way).',
      params: ContentParams,
      querystring: ContentQuery,
      headers: DownloadHeaders,
      response: { ...DownloadResponses, ...errors(400, 401, 502, 504), 403: refused, 404: notFound, 429: downloadLimited },
    },
  }, async (request, reply) => {
    const { conversationID, msgID, index } = request.params
    const content = await app.downloads.ofElement(request.identity, conversationID, msgID, index, request.query)
    return sendContent(request, reply, content, app.upstream)
  })

  app.post('/downloads', {
    config: { download: true },
    schema: {
      tags,
      operationId: 'downloadElementByParam',
      summary: 'TIMMsgDownloadElemToPath: content by the SDK\'s DownloadElemParam',
      description: 'The id or url must be in an element of a message the caller may see (C2C participant, group member, owner of a saved message); ' +
        'the answer is that element\'s content, as for GET …/elements/{index}/content.',
      body: example(DownloadElemParam, { msg_download_elem_param_id: 'up_0123456789abcdef0123456789abcdef' }),
      headers: DownloadHeaders,
      response: { ...DownloadResponses, ...errors(400, 401, 413, 415, 502, 504), 403: refused, 404: notFound, 429: downloadLimited },
    },
  }, async (request, reply) => {
    const p = request.body
    const content = await app.downloads.ofParam(request.identity, {
      ...(p.msg_download_elem_param_type !== undefined && { type: p.msg_download_elem_param_type }),
      ...(p.msg_download_elem_param_id !== undefined && { id: p.msg_download_elem_param_id }),
      ...(p.msg_download_elem_param_url !== undefined && { url: p.msg_download_elem_param_url }),
    })
    return sendContent(request, reply, content, app.upstream)
  })
}

export default downloadRoutes
