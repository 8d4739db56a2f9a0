import fp from 'fastify-plugin'
import { Ajv, type ErrorObject, type Options as AjvOptions, type ValidateFunction } from 'ajv'
import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import { Errors } from '../errors.js'
import { slices } from '../slices.js'

const ajvBase: AjvOptions = { useDefaults: true, removeAdditional: true, allErrors: false, strict: false }
/** Bodies are not coerced ("20" is not a count); query strings and params are parsed as their types. */
const ajv = {
  body: new Ajv({ ...ajvBase, coerceTypes: false }),
  other: new Ajv({ ...ajvBase, coerceTypes: 'array' }),
}

/**
 * Bodies over this many bytes that are JSON arrays (an import of up to 1000 messages) are
 * parsed element by element, in slices; arrays over SLICED_ITEMS are validated item by item,
 * in slices. Parsed whole, a 12 MB body held the event loop for 150–200 ms.
 */
const SLICED_BYTES = 256 * 1024
const SLICED_ITEMS = 64

const parseOne = (text: string): unknown => sjson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' })

function parseWhole (buf: Buffer): unknown {
  try {
    return parseOne(buf.toString('utf8'))
  } catch (err) {
    throw Errors.invalidJson((err as Error).message)
  }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/**
 * A top-level JSON array, element by element: its bytes are scanned for the commas and the
 * bracket at depth 1 (ASCII bytes never occur inside a UTF-8 sequence), and each element is
 * decoded and parsed on its own, the work given back to the event loop every SLICE_MS (src/slices.ts).
 * Anything unusual (not an array, an empty element, trailing bytes) is parsed whole, so
 * that a malformed body gets exactly the error it always got.
 */
async function parseArrayInSlices (buf: Buffer): Promise<unknown> {
  let i = 0
  while (i < buf.length && isSpace(buf[i]!)) i++
  if (buf[i] !== 0x5b) return parseWhole(buf)
  const out: unknown[] = []
  const s = slices()
  let depth = 0
  let start = i + 1
  /** The element from `start` to `end`; false when the body must be parsed whole instead. */
  const element = (end: number, last: boolean): boolean => {
    const piece = buf.toString('utf8', start, end)
    start = end + 1
    // "[]" is the empty array; any other empty element is malformed.
    if (piece.trim() === '') return last && out.length === 0
    try {
      out.push(parseOne(piece))
      return true
    } catch {
      return false
    }
  }
  for (; i < buf.length; i++) {
    const c = buf[i]!
    if (c === QUOTE) {
      // To the closing quote: one not preceded by an odd number of backslashes.
      let end = buf.indexOf(QUOTE, i + 1)
      while (end !== -1) {
        let backslashes = 0
        while (buf[end - 1 - backslashes] === BACKSLASH) backslashes++
        if (backslashes % 2 === 0) break
        end = buf.indexOf(QUOTE, end + 1)
      }
      if (end === -1) return parseWhole(buf)
      i = end
    } else if (c === 0x5b || c === 0x7b) {
      depth++
    } else if (c === 0x5d || c === 0x7d) {
      if (--depth > 0) continue
      if (c !== 0x5d || !element(i, true)) return parseWhole(buf)
      break
    } else if (c === 0x2c && depth === 1) {
      if (!element(i, false)) return parseWhole(buf)
      const turn = s.next()
      if (turn !== undefined) await turn
    }
  }
  if (depth !== 0) return parseWhole(buf)
  for (i++; i < buf.length; i++) if (!isSpace(buf[i]!)) return parseWhole(buf)
  return out
}

type Done = (err: Error | null, body?: unknown) => void

/** UTF-8 JSON, with `__proto__` and `constructor` keys removed; an empty body is no body. */
function parseJson (_req: unknown, body: string | Buffer, done: Done): void {
  const buf = body as Buffer
  if (buf.length === 0) return done(null, undefined)
  if (!isUtf8(buf)) return done(Errors.invalidParameter('the body is not valid UTF-8'))
  if (buf.length > SLICED_BYTES) {
    parseArrayInSlices(buf).then(parsed => done(null, parsed), (err: Error) => done(err))
    return
  }
  try {
    done(null, parseWhole(buf))
  } catch (err) {
    done(err as Error)
  }
}

/** A validation failure as Fastify reports one (src/plugins/errors.ts words it), its paths under `prefix`. */
function validationError (errors: ErrorObject[] | null | undefined, prefix = ''): Error {
  return Object.assign(new Error('body validation failed'), {
    statusCode: 400,
    validationContext: 'body',
    validation: (errors ?? []).map(e => ({ ...e, instancePath: `${prefix}${e.instancePath}` })),
  })
}

/**
 * A body schema that is an array of items: small arrays validated at once, large ones item
 * by item in slices (an async validator: Fastify awaits it). The same errors either way.
 */
function arrayValidator (schema: Record<string, unknown>): ValidateFunction {
  const whole = ajv.body.compile(schema)
  const { items, ...bounds } = schema
  const outer = ajv.body.compile(bounds)
  const item = ajv.body.compile(items as object)
  const inSlices = async (data: unknown[]): Promise<unknown[]> => {
    if (!outer(data)) throw validationError(outer.errors)
    const s = slices()
    for (let i = 0; i < data.length; i++) {
      if (!item(data[i])) throw validationError(item.errors, `/${i}`)
      const turn = s.next()
      if (turn !== undefined) await turn
    }
    return data
  }
  const validate = ((data: unknown) => {
    if (Array.isArray(data) && data.length > SLICED_ITEMS) return inSlices(data)
    const ok = whole(data)
    validate.errors = whole.errors
    return ok
  }) as ValidateFunction
  return validate
}

function compile (schema: Record<string, unknown>, httpPart: string | undefined): ValidateFunction {
  if (httpPart !== 'body') return ajv.other.compile(schema)
  return schema.type === 'array' && typeof schema.items === 'object' ? arrayValidator(schema) : ajv.body.compile(schema)
}

/**
 * Validators by what they check: an app built again in the same process (every test
 * builds one or more) reuses them. Ajv's own cache, kept by schema object, compiled every
 * route schema again on each build: a build took ~180 ms, ~55 ms with this.
 */
const compiled = new Map<string, ValidateFunction>()

/** Request bodies: JSON parsed as above (but where a route says otherwise), then validated by the route's schemas. */
export default fp(async (app) => {
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const key = `${httpPart === 'body' ? 'body' : 'other'} ${JSON.stringify(schema)}`
    let validate = compiled.get(key)
    if (validate === undefined) compiled.set(key, validate = compile(schema as Record<string, unknown>, httpPart))
    return validate
  })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson)
  app.addContentTypeParser(/^application\/[\w.+-]*\+json$/, { parseAs: 'buffer' }, parseJson)
}, { name: 'timgate-json-body' })
