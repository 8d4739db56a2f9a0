import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { catalogue } from '../errors.js'

const description = `The message interfaces of the Tencent Cloud IM C SDK (TIMMsg*) over HTTP, with the SDK's own JSON.

Authenticate with \`Authorization: Bearer <UserSig>\` (TLSSigAPIv2, signed with the gateway's SDKAppID and key). The admin identifier may act for a user with \`X-TIM-On-Behalf-Of\`.

Errors are \`{code, desc}\` with a TIM error code:

| code | HTTP | when |
|---|---|---|
${catalogue.map(e => `| ${e.code} | ${e.status} | ${e.when} |`).join('\n')}
`

/** openapi-typescript and most generators ignore if/then: the document shows Elem as oneOf its types. */
function elemsAsOneOf (node: unknown): void {
  if (typeof node !== 'object' || node === null) return
  const o = node as Record<string, unknown>
  if (o.title === 'Elem' && Array.isArray(o.allOf)) {
    o.oneOf = (o.allOf as Array<{ then: unknown }>).map(c => c.then)
    delete o.allOf
  }
  Object.values(o).forEach(elemsAsOneOf)
}

/**
 * The OpenAPI document, generated from the route schemas (register before the routes),
 * and its reference page at /docs. Both are public.
 */
export default fp(async (app) => {
  await app.register(swagger, {
    transformObject: (documentObject) => {
      const doc = structuredClone('openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject)
      elemsAsOneOf(doc)
      return doc
    },
    openapi: {
      openapi: '3.1.0',
      info: { title: 'timgate', version: '0.1.0', description },
      tags: [
        { name: 'messages', description: 'The TIMMsg* interfaces' },
        { name: 'groups', description: 'Minimal group management: membership makes group conversations real' },
        { name: 'media', description: 'Uploads for media elements, and downloads of element content (TIMMsgDownloadElemToPath)' },
        { name: 'search', description: 'TIMMsgSearchLocalMessages: keyword search over what the caller can see' },
        { name: 'events', description: 'What comes out on its own: the event stream (the SDK\'s receive callbacks)' },
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
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } })
}, { name: 'timgate-openapi' })
