import t from 'tap'
import { Type } from 'typebox'
import { documentObject, documentRoute } from '../src/openapi/document.js'

/** A document as @fastify/swagger makes it, with the route facts documentRoute adds. */
const generated = (ops: Record<string, Record<string, unknown>>) => ({ openapi: '3.1.0', info: { title: 't', version: '1' }, paths: { '/x': ops }, components: { securitySchemes: {} } })
const facts = (o: Partial<{ idempotent: boolean, secured: boolean, optionalBody: boolean }> = {}) => ({ 'x-timgate-route': { idempotent: false, secured: false, optionalBody: false, ...o } })
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } })
const none = { documentedAs: {}, include: [] }

t.test('when two different schemas share a title, then making the document fails and names the title', async t => {
  const a = { type: 'object', title: 'Thing', properties: { a: { type: 'string' } } }
  const b = { type: 'object', title: 'Thing', properties: { b: { type: 'string' } } }
  t.throws(() => documentObject(generated({
    post: { ...facts(), requestBody: json(a), responses: { 200: { description: 'ok', ...json(b) } } },
  }), none), /two different schemas are titled "Thing"/)
})

t.test('when uses of one title describe it differently, then the component keeps only a description they all agree on', async t => {
  const thing = (description: string) => ({ type: 'object', title: 'Thing', description, properties: { a: { type: 'string' } } })
  const doc = documentObject(generated({
    post: { ...facts(), requestBody: json({ type: 'object', properties: { one: thing('one'), two: thing('two') } }), responses: { 200: { description: 'ok' } } },
    put: { ...facts(), requestBody: json({ type: 'object', properties: { same: { ...thing('same'), title: 'Same' }, again: { ...thing('same'), title: 'Same' } } }), responses: { 200: { description: 'ok' } } },
  }), none) as { components: { schemas: Record<string, { description?: string }> } }
  t.equal(doc.components.schemas.Thing?.description, undefined)
  t.equal(doc.components.schemas.Same?.description, 'same')
})

t.test('when a titled schema is a whole body, then its description there counts only without nested uses, and only when the bodies agree', async t => {
  const body = (title: string, description: string) => json({ type: 'object', title, description })
  const doc = documentObject(generated({
    post: { ...facts(), requestBody: body('Agreed', 'mine'), responses: { 200: { description: 'a', ...body('Agreed', 'mine') }, 400: { description: 'b', ...body('Split', 'one') }, 401: { description: 'c', ...body('Split', 'two') } } },
    put: { ...facts(), requestBody: body('Nested', 'the body\'s'), responses: { 200: { description: 'ok', ...json({ type: 'array', items: { type: 'object', title: 'Nested', description: 'its own' } }) } } },
  }), none) as { components: { schemas: Record<string, { description?: string }> } }
  t.equal(doc.components.schemas.Agreed?.description, 'mine')
  t.equal(doc.components.schemas.Split?.description, undefined)
  t.equal(doc.components.schemas.Nested?.description, 'its own')
})

t.test('when the route facts are applied, then headers, optional bodies and additionalProperties follow them', async t => {
  const doc = documentObject(generated({
    post: { ...facts({ idempotent: true, secured: true, optionalBody: true }), requestBody: { required: true, ...json({ type: 'object', additionalProperties: false }) }, responses: { 429: { description: 'slow down' } } },
    get: { responses: { 206: { description: 'part', headers: { 'Content-Range': { description: 'mine' } } } } },
  }), { documentedAs: {}, include: [Type.Object({ n: Type.Integer() }, { title: 'Extra', additionalProperties: false })] }) as {
    paths: { '/x': Record<string, { parameters?: unknown[], requestBody?: { required: boolean, content: Record<string, { schema: object }> }, responses: Record<string, { headers: Record<string, unknown> }> }> }
    components: { schemas: Record<string, object> }
  }
  const post = doc.paths['/x'].post!
  t.same(post.parameters, [{ $ref: '#/components/parameters/IdempotencyKey' }, { $ref: '#/components/parameters/OnBehalfOf' }])
  t.equal(post.requestBody?.required, false)
  t.same(post.requestBody?.content['application/json']?.schema, { type: 'object' }, 'no additionalProperties: false')
  t.same(Object.keys(post.responses['429']?.headers ?? {}), ['x-request-id', 'Retry-After'])
  const get = doc.paths['/x'].get!
  t.equal(get.parameters, undefined, 'no facts, no parameters')
  t.same(get.responses['206']?.headers['Content-Range'], { description: 'mine' }, 'a route\'s own header wins')
  t.same(doc.components.schemas.Extra, { type: 'object', required: ['n'], properties: { n: { type: 'integer' } }, title: 'Extra' }, 'an included schema is a component')
})

t.test('when a route is documented, then its config gives the facts and an upload\'s body is binary', async t => {
  const plain = documentRoute({ schema: {}, url: '/a', route: {} }) as unknown as { schema: Record<string, unknown> }
  t.same(plain.schema['x-timgate-route'], { idempotent: false, secured: true, optionalBody: false })
  const upload = documentRoute({ schema: {}, url: '/media', route: { config: { upload: true, public: false, idempotent: true } } }) as unknown as { schema: { body: { content: Record<string, { schema: object }> } } }
  t.same(Object.keys(upload.schema.body.content), ['application/octet-stream', '*/*'])
  t.match(upload.schema.body.content['application/octet-stream'], { schema: { type: 'string', format: 'binary' } })
})

t.test('when a schema was added with app.addSchema, then it stays a component, opened like the rest', async t => {
  const doc = documentObject({ ...generated({ get: { responses: { 200: { description: 'ok', ...json({ $ref: '#/components/schemas/Pre' }) } } } }), components: { schemas: { Pre: { type: 'object', additionalProperties: false } } } }, none) as { components: { schemas: Record<string, object> } }
  t.same(doc.components.schemas.Pre, { type: 'object' })
})
