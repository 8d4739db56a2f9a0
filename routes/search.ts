import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { MessageSearchParam, MessageSearchResult } from '../src/search/schemas.js'
import { errors, example } from './responses.js'

/** TIMMsgSearchLocalMessages: keyword search over what the caller can see. */
const searchRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/messages/search', {
    schema: {
      tags: ['search'],
      operationId: 'searchMessages',
      summary: 'TIMMsgSearchLocalMessages: find messages by keyword, sender, type and time',
      description: 'Keywords match as case-insensitive substrings in any script (one- and two-character keywords too) of text elements, file names, custom element desc and location desc. ' +
        'Only what the caller sees now: its C2C conversations, the groups it is a member of, its saved messages; never what it deleted, never a revoked message. ' +
        'With msg_search_param_conv_id: that conversation\'s matches, newest first, paged (a group the caller is not in → 403 10007). Without: the conversations with a match, newest match first, paged.',
      body: example(MessageSearchParam, { msg_search_param_keyword_array: ['hello'] }),
      response: { 200: MessageSearchResult, ...errors(400, 401, 403, 404, 413, 415) },
    },
  }, async (request) => app.messageSearch.search(request.identity, request.body))
}

export default searchRoutes
