import fp from 'fastify-plugin'
import { Ajv, type Options as AjvOptions } from 'ajv'
import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import { Errors } from '../errors.js'

const ajvBase: AjvOptions = { useDefaults: true, removeAdditional: true, allErrors: false, strict: false }
/** Bodies are not coerced ("20" is not a count); query strings and params are parsed as their types. */
const ajv = {
  body: new Ajv({ ...ajvBase, coerceTypes: false }),
  other: new Ajv({ ...ajvBase, coerceTypes: 'array' }),
}

type Done = (err: Error | null, body?: unknown) => void

/** UTF-8 JSON, with `__proto__` and `constructor` keys removed; an empty body is no body. */
function parseJson (_req: unknown, body: string | Buffer, done: Done): void {
  const buf = body as Buffer
  if (buf.length === 0) return done(null, undefined)
  if (!isUtf8(buf)) return done(Errors.invalidParameter('the body is not valid UTF-8'))
  try {
    done(null, sjson.parse(buf.toString('utf8'), undefined, { protoAction: 'remove', constructorAction: 'remove' }))
  } catch (err) {
    done(Errors.invalidJson((err as Error).message))
  }
}

/** Request bodies: JSON parsed as above (the only content type, but where a route says otherwise), then validated by the route's schemas. */
export default fp(async (app) => {
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? ajv.body : ajv.other).compile(schema))
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson)
  app.addContentTypeParser(/^application\/[\w.+-]*\+json$/, { parseAs: 'buffer' }, parseJson)
}, { name: 'timgate-json-body' })
