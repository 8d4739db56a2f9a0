import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { catalogue } from '../errors.js'
import { EventEnvelope } from '../events/schemas.js'
import { ElemUnion } from '../messages/schemas.js'
import { documentObject, documentRoute } from '../openapi/document.js'

/** Markdown renderers take `<userID>` for a tag and show nothing. */
export const escapeHtml = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** Where a gateway started with the defaults answers (HOST 127.0.0.1, PORT 8080). */
const LOCAL_SERVER = { url: 'http://127.0.0.1:8080', description: 'a gateway started with the defaults; an SDK takes its own base URL' }

const description = `The message interfaces of the Tencent Cloud IM C SDK (TIMMsg*) over HTTP, with the SDK's own JSON.

Authenticate with \`Authorization: Bearer <UserSig>\` (TLSSigAPIv2, signed with the gateway's SDKAppID and key). The admin identifier may act for a user with \`X-TIM-On-Behalf-Of\`.

Errors are \`{code, desc}\` with a TIM error code:

| code | HTTP | when |
|---|---|---|
${catalogue.map(e => `| ${e.code} | ${e.status} | ${escapeHtml(e.when)} |`).join('\n')}

SDKs: generate one from this document (\`/openapi.json\`); which generators, and what to write for media with each: docs/openapi.md.
`

/**
 * The OpenAPI document, generated from the route schemas (register before the routes),
 * and its reference page at /docs. Both are public.
 */
export default fp(async (app) => {
  await app.register(swagger, {
    transform: documentRoute,
    transformObject: (generated) => documentObject('openapiObject' in generated ? generated.openapiObject : generated.swaggerObject, { documentedAs: { Elem: ElemUnion }, include: [EventEnvelope] }),
    openapi: {
      openapi: '3.1.0',
      info: { title: 'timgate API', version: '0.1.0', description, license: { name: 'MIT', identifier: 'MIT' } },
      servers: [LOCAL_SERVER],
      tags: [
        { name: 'messages', description: 'The TIMMsg* interfaces' },
        { name: 'conversations', description: 'The conversation list: unread counts, last messages, pins (CONTRACT §9)' },
        { name: 'groups', description: 'Minimal group management: membership makes group conversations real' },
        { name: 'media', description: 'Uploads for media elements, and downloads of element content (TIMMsgDownloadElemToPath)' },
        { name: 'search', description: 'TIMMsgSearchLocalMessages: keyword search over what the caller can see' },
        { name: 'events', description: 'What comes out on its own: the event stream (the SDK\'s receive callbacks)' },
        { name: 'webhooks', description: 'Events POSTed to other backends (Standard Webhooks), and the before-send hook: the admin\'s' },
        { name: 'system', description: 'Health, metrics and this document' },
      ],
      components: {
        securitySchemes: {
          UserSig: { type: 'http', scheme: 'bearer', description: 'A TLSSigAPIv2 UserSig (`npm run usersig -- <userID>`)' },
        },
      },
      security: [{ UserSig: [] }],
    },
  })
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true }
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list' },
    theme: { title: 'timgate API' },
    // "Try it out" goes to the gateway serving the page, wherever it is.
    transformSpecification: (doc) => ({ ...doc, servers: [{ url: '/', description: 'this gateway' }, LOCAL_SERVER] }),
  })
}, { name: 'timgate-openapi' })
