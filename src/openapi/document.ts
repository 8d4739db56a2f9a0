import type { FastifyContextConfig, FastifySchema } from 'fastify'
import type { TSchema } from 'typebox'

/**
 * What @fastify/swagger makes of the route schemas, made into a document generators turn
 * into a good SDK (docs/openapi.md):
 *
 * - every schema with a `title` becomes `components.schemas[title]` and each use of it a
 *   `$ref`: a route that gives its shared shapes a title gets named types, nothing else to do.
 *   Two different schemas under one title are an error (a title names one shape; a
 *   `description` of its own at a use does not count). `documentedAs` names schemas the
 *   runtime validates in one form and the document shows in another (Elem: if/then for
 *   Ajv, oneOf for generators).
 * - `additionalProperties: false` is left out: it makes Ajv drop unknown request keys,
 *   while clients must read it as "refused" (CONTRACT §1 accepts and ignores them).
 * - the headers the prose names are parameters and response headers, from the route's
 *   config: Idempotency-Key (`idempotent`), X-TIM-On-Behalf-Of (not `public`), and
 *   x-request-id, Retry-After, Content-Range by status; an `optionalBody` route's body is
 *   not required; an `upload` route's body is the file's bytes.
 */

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Read and delete: no body at all is the empty parameter (requestBody.required false). */
    optionalBody?: boolean
  }
}

/** The route facts the document needs, carried from `transform` to `transformObject` on the operation. */
const ROUTE = 'x-timgate-route'
interface RouteFacts { idempotent: boolean, secured: boolean, optionalBody: boolean }

const binary = { type: 'string', format: 'binary', description: 'the file\'s bytes' }
/** An upload's body: declared under both types generated clients send for a Blob or File. */
const uploadBody = { content: { 'application/octet-stream': { schema: binary }, '*/*': { schema: binary } } }

/** @fastify/swagger's per-route `transform`: the route's config, and an upload's body, for the document only. */
export function documentRoute ({ schema, url, route }: { schema: FastifySchema, url: string, route: { config?: FastifyContextConfig } }): { schema: FastifySchema, url: string } {
  const config = route.config ?? {}
  const facts: RouteFacts = { idempotent: config.idempotent === true, secured: config.public !== true, optionalBody: config.optionalBody === true }
  const documented: Json = { ...schema, ...(config.upload === true && { body: uploadBody }), [ROUTE]: facts }
  return { url, schema: documented }
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` })

const parameters = {
  IdempotencyKey: {
    in: 'header',
    name: 'Idempotency-Key',
    required: false,
    description: 'Repeating the request with the same key (same caller, same body) within 24 hours returns the first response again and writes nothing (header `idempotent-replayed: true`); another body with the key is 409 (9510).',
    schema: { type: 'string', minLength: 1, maxLength: 255 },
  },
  OnBehalfOf: {
    in: 'header',
    name: 'X-TIM-On-Behalf-Of',
    required: false,
    description: 'The admin identifier only: act as this UserID (anyone else sending it gets 403).',
    schema: { type: 'string' },
  },
}

const headers = {
  RequestId: { description: 'the request id: the caller\'s own `x-request-id` when it is 1-128 of `[A-Za-z0-9_.:@-]`, else a new UUID; the logs carry it', schema: { type: 'string' } },
  RetryAfter: { description: 'seconds to wait before trying again', schema: { type: 'integer', minimum: 0 } },
  ContentRange: { description: '206: `bytes first-last/size`; 416: `bytes */size`', schema: { type: 'string' } },
  IdempotentReplayed: { description: '`true` when this is the first response again, for a repeated Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
}

/** The response headers each status carries. */
function responseHeaders (status: string): Json {
  return {
    'x-request-id': ref('headers', 'RequestId'),
    ...(['429', '503', '507'].includes(status) && { 'Retry-After': ref('headers', 'RetryAfter') }),
    ...(['206', '416'].includes(status) && { 'Content-Range': ref('headers', 'ContentRange') }),
  }
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options'])

/** Parameters, request body and response headers of one operation, from its route's facts. */
function documentOperation (op: Json): void {
  const facts = op[ROUTE] as RouteFacts | undefined
  delete op[ROUTE]
  const params = (op.parameters as unknown[] | undefined) ?? []
  if (facts?.idempotent === true) params.push(ref('parameters', 'IdempotencyKey'))
  if (facts?.secured === true) params.push(ref('parameters', 'OnBehalfOf'))
  if (params.length > 0) op.parameters = params
  if (facts?.optionalBody === true && isObject(op.requestBody)) op.requestBody.required = false
  for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
    const replayed = facts?.idempotent === true && /^2/.test(status) ? { 'idempotent-replayed': ref('headers', 'IdempotentReplayed') } : {}
    response.headers = { ...responseHeaders(status), ...replayed, ...(response.headers as Json | undefined) }
    withoutUseDescriptions(response)
  }
  if (isObject(op.requestBody)) withoutUseDescriptions(op.requestBody)
}

/** Where a whole body's description waits while the components are made (see lift). */
const BODY_DESCRIPTION = 'x-timgate-body-description'

/**
 * A titled body schema's description may be the use's (`{ ...ErrorBody, description }`),
 * which the response or request body already carries: it only counts for the component
 * when no nested use describes it (see lift).
 */
function withoutUseDescriptions (bodyOrResponse: Json): void {
  for (const media of Object.values((bodyOrResponse.content ?? {}) as Record<string, Json>)) {
    if (!isObject(media.schema) || typeof media.schema.title !== 'string' || typeof media.schema.description !== 'string') continue
    media.schema[BODY_DESCRIPTION] = media.schema.description
    delete media.schema.description
  }
}

/** Takes out `additionalProperties: false` (see above); `true` and schemas stay. */
function opened (node: unknown): void {
  if (Array.isArray(node)) return node.forEach(opened)
  if (!isObject(node)) return
  if (node.additionalProperties === false) delete node.additionalProperties
  Object.values(node).forEach(opened)
}

/** The shape of a schema: what two uses of one title must agree on. */
const shapeOf = (schema: Json): string => JSON.stringify(schema, (key, value: unknown) => key === 'description' || key === BODY_DESCRIPTION ? undefined : value)

interface Lifting {
  components: Record<string, Json>
  /** By title: the shape first seen (see shapeOf). */
  shapes: Map<string, string>
  /** By title: the descriptions of its nested uses, and of its uses as a whole body. */
  descriptions: Map<string, { nested: Set<unknown>, body: Set<unknown> }>
  documentedAs: Record<string, TSchema>
}

/**
 * The component's description: the one its nested uses (a property, an item) agree on,
 * else the one its uses as a whole body agree on, else none.
 */
function describe (l: Lifting): void {
  for (const [title, { nested, body }] of l.descriptions) {
    const agreed = nested.size > 0 ? nested : body
    const [only] = agreed
    // Every title with descriptions was made a component by the same call of lift.
    if (agreed.size === 1 && typeof only === 'string') l.components[title]!.description = only
  }
}

/**
 * Replaces every titled schema under `node` by a $ref to `components[title]`, innermost
 * first, adding the component the first time (its description: see describe).
 */
function lift (node: unknown, l: Lifting): unknown {
  if (Array.isArray(node)) return node.map(n => lift(n, l))
  if (!isObject(node)) return node
  const title = node.title
  if (typeof title !== 'string') return liftChildren(node, l)
  const documented = l.documentedAs[title]
  if (documented !== undefined) {
    if (!l.shapes.has(title)) {
      l.shapes.set(title, '')
      l.components[title] = liftChildren(structuredClone(documented) as Json, l)
    }
    return ref('schemas', title)
  }
  const { description, [BODY_DESCRIPTION]: bodyDescription, ...lifted } = liftChildren(node, l)
  const seen = l.descriptions.get(title) ?? { nested: new Set(), body: new Set() }
  l.descriptions.set(title, seen)
  if (bodyDescription !== undefined) seen.body.add(bodyDescription)
  else seen.nested.add(description)
  const shape = shapeOf(lifted)
  const known = l.shapes.get(title)
  if (known === undefined) {
    l.shapes.set(title, shape)
    l.components[title] = lifted
  } else if (known !== shape) {
    throw new Error(`OpenAPI: two different schemas are titled "${title}": give one of them another title\n${known}\n${shape}`)
  }
  return ref('schemas', title)
}

const liftChildren = (node: Json, l: Lifting): Json => Object.fromEntries(Object.entries(node).map(([k, v]) => [k, lift(v, l)]))

export interface DocumentOptions {
  /** By title: the form the document shows for schemas validated in another (see above). */
  documentedAs: Record<string, TSchema>
  /** Schemas no route body has, named in components all the same (the event envelope of a text/event-stream). */
  include: TSchema[]
}

/** @fastify/swagger's `transformObject`: the generated document made into the one committed (see above). */
export function documentObject (generated: Json, { documentedAs, include }: DocumentOptions): Json {
  const doc = structuredClone(generated)
  const paths = doc.paths as Record<string, Record<string, Json>>
  for (const item of Object.values(paths)) {
    for (const [method, op] of Object.entries(item)) if (METHODS.has(method)) documentOperation(op)
  }
  opened(doc.paths)
  const schemas: Record<string, Json> = {}
  const lifting: Lifting = { components: schemas, shapes: new Map(), descriptions: new Map(), documentedAs }
  doc.paths = lift(doc.paths, lifting)
  const included = structuredClone(include)
  opened(included)
  lift(included, lifting)
  describe(lifting)
  const components = (doc.components ?? {}) as Json
  // Schemas added with app.addSchema ($id) are there already, under their $id.
  const all = { ...(components.schemas as Json | undefined), ...schemas }
  opened(all)
  doc.components = {
    ...components,
    schemas: Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b))),
    parameters,
    headers,
  }
  return doc
}
