import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { Ajv2020 } from 'ajv/dist/2020.js'
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript'
import { generateOpenApi, OPENAPI_FILE } from '../scripts/openapi.js'
import { catalogue } from '../src/errors.js'
import { escapeHtml } from '../src/plugins/openapi.js'
import { build } from './helper.js'
import { unhooked } from './fixtures/tsc.js'

interface Schema { $ref?: string, type?: string, required?: string[], properties?: Record<string, Schema>, oneOf?: Schema[], const?: unknown, title?: string }
interface Response { description?: string, content?: Record<string, { schema?: Schema }> }
interface Operation {
  tags?: string[]
  summary?: string
  operationId?: string
  security?: unknown[]
  parameters?: unknown[]
  requestBody?: unknown
  responses?: Record<string, Response>
}
interface Document {
  info: { title: string, description?: string }
  servers?: Array<{ url: string }>
  tags?: Array<{ name: string }>
  security?: unknown[]
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, Schema>, parameters: Record<string, { name: string, in: string }> }
}

const committedText = readFileSync(OPENAPI_FILE, 'utf8')
const committed = JSON.parse(committedText) as Document
/** A schema, or the component its $ref names. */
const resolved = (schema: Schema | undefined): Schema | undefined =>
  schema?.$ref === undefined ? schema : committed.components.schemas[schema.$ref.replace('#/components/schemas/', '')]

t.test('when the route schemas are turned into OpenAPI, then the committed openapi/openapi.json is that document', async t => {
  t.equal(committedText, await generateOpenApi(), 'openapi/openapi.json is out of date with the route schemas: run `npm run openapi` and commit it')
})

t.test('when GET /openapi.json, then the app serves the committed document and no credential', async t => {
  const { app, config } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), committed, 'GET /openapi.json differs from openapi/openapi.json: run `npm run openapi`')
  t.notOk(res.body.includes(String(config.sdkAppId)), 'the document does not name the SDKAppID')
  t.notOk(res.body.includes(config.secretKey), 'the document does not contain the secret key')
})

t.test('when the document is read, then every operation is described and documents its errors as {code, desc}', async t => {
  const tagNames = new Set((committed.tags ?? []).map(tag => tag.name))
  const operations = Object.entries(committed.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, op })))
  t.ok(operations.length > 0, 'the document has operations')
  for (const { name, op } of operations) {
    t.ok((op.tags ?? []).length > 0 && (op.tags ?? []).every(tag => tagNames.has(tag)), `${name} has declared tags`)
    t.ok(op.summary !== undefined && op.summary !== '', `${name} has a summary`)
    const statuses = Object.keys(op.responses ?? {})
    t.ok(statuses.some(s => /^2\d\d$/.test(s)), `${name} documents a 2xx response`)
    const secured = (op.security ?? committed.security ?? []).length > 0
    const expected = [
      ...(secured ? ['401'] : []),
      ...(op.parameters !== undefined || op.requestBody !== undefined ? ['400'] : []),
      ...(op.requestBody !== undefined ? ['413', '415'] : []),
      // A JSON body must arrive within TIM_BODY_TIMEOUT_MS; uploads are bounded by the 5-minute request timeout.
      ...(op.requestBody !== undefined && name !== 'POST /media' ? ['408'] : []),
    ]
    for (const s of expected) t.ok(statuses.includes(s), `${name} documents ${s}`)
    for (const s of statuses.filter(s => /^[45]\d\d$/.test(s))) {
      const schema = resolved(op.responses?.[s]?.content?.['application/json']?.schema)
      t.match(schema, {
        type: 'object',
        required: ['code', 'desc'],
        properties: { code: { type: 'integer' }, desc: { type: 'string' } },
      }, `${name} ${s} is {code, desc}`)
    }
  }
  const description = committed.info.description ?? ''
  for (const e of catalogue) {
    t.ok(description.includes(`| ${e.code} | ${e.status} | ${escapeHtml(e.when)} |`), `info.description lists ${e.code} (HTTP ${e.status})`)
  }
})

type AnyOp = Omit<Operation, 'parameters' | 'requestBody'> & { requestBody?: { required?: boolean, content: Record<string, { schema?: Schema & { format?: string }, example?: unknown }> }, parameters?: Array<{ $ref?: string, name?: string, in?: string, example?: unknown, required?: boolean }> }
const op = (path: string, method: string) => committed.paths[path]?.[method] as AnyOp

t.test('when the document is read, then shared shapes are named components, used by $ref, and no request refuses unknown keys', async t => {
  const schemas = committed.components.schemas
  for (const name of ['Message', 'NewMessage', 'TimedMessage', 'Elem', 'TextElem', 'ImageElem', 'SoundElem', 'CustomElem', 'FileElem', 'FaceElem', 'LocationElem', 'VideoElem', 'MergeElem', 'GroupTipsElem', 'MsgLocator', 'AnchorMessage', 'ErrorBody', 'Upload', 'EventEnvelope', 'MessageReceipt']) {
    t.ok(schemas[name] !== undefined, `components.schemas.${name}`)
  }
  const elems = schemas.Elem?.oneOf ?? []
  t.equal(elems.length, 10, 'Elem is one of ten element types')
  for (const e of elems) {
    const elemType = resolved(e)?.properties?.elem_type
    t.match(elemType, { type: 'integer', const: Number }, `${e.$ref ?? ''}: elem_type is an integer const`)
  }
  t.same(resolved(schemas.Message?.properties?.message_elem_array as Schema & { items: Schema }) && (schemas.Message?.properties?.message_elem_array as { items: Schema }).items, { $ref: '#/components/schemas/Elem' }, 'received elements are typed')
  t.same((schemas.NewMessage?.properties?.message_elem_array as { items: Schema }).items, { $ref: '#/components/schemas/Elem' }, 'sent elements are the same union')
  t.notOk(committedText.includes('"additionalProperties": false'), 'no schema says additionalProperties false (CONTRACT §1: unknown keys are ignored)')
  t.ok((committedText.match(/"\$ref"/g) ?? []).length > 200, 'paths use $ref')
  t.same(op('/conversations/{conversationID}/messages', 'post').responses?.['200']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/Message' })
})

t.test('when the document is read, then headers, optional bodies, binary bodies, servers and examples are declared', async t => {
  const operations = Object.entries(committed.paths).flatMap(([path, item]) => Object.entries(item).map(([method, o]) => ({ name: `${method.toUpperCase()} ${path}`, op: o as AnyOp })))
  const refs = (o: AnyOp) => (o.parameters ?? []).map(p => p.$ref)
  for (const { name, op: o } of operations) {
    const secured = (o.security ?? committed.security ?? []).length > 0
    t.equal(refs(o).includes('#/components/parameters/OnBehalfOf'), secured, `${name}: X-TIM-On-Behalf-Of when it takes a UserSig`)
    for (const [status, response] of Object.entries(o.responses ?? {})) {
      const headers = (response as { headers?: Record<string, unknown> }).headers ?? {}
      t.ok('x-request-id' in headers, `${name} ${status}: x-request-id`)
      if (status === '429' || status === '503') t.ok('Retry-After' in headers, `${name} ${status}: Retry-After`)
      if (status === '206' || status === '416') t.ok('Content-Range' in headers, `${name} ${status}: Content-Range`)
    }
    for (const p of o.parameters ?? []) if (p.in === 'path') t.not(p.example, undefined, `${name}: path parameter ${p.name ?? ''} has an example`)
    for (const [type, media] of Object.entries(o.requestBody?.content ?? {})) {
      if (type === 'application/json') t.not(media.example, undefined, `${name}: its JSON body has an example`)
    }
  }
  const writes = ['sendMessage', 'revokeMessage', 'importMessages', 'saveMessage', 'reportRead', 'deleteMessagesSdk', 'batchSend', 'uploadMedia', 'createGroup']
  for (const { name, op: o } of operations.filter(({ op: o }) => writes.includes(o.operationId ?? ''))) {
    t.ok(refs(o).includes('#/components/parameters/IdempotencyKey'), `${name}: Idempotency-Key`)
  }
  t.match(committed.components.parameters.IdempotencyKey, { in: 'header', name: 'Idempotency-Key', required: false, description: String, schema: { type: 'string' } })
  t.equal(op('/conversations/{conversationID}/read', 'post').requestBody?.required, false, 'read takes no body')
  t.equal(op('/conversations/{conversationID}/messages/delete', 'post').requestBody?.required, false, 'the SDK delete takes no body')
  t.equal(op('/conversations/{conversationID}/messages', 'post').requestBody?.required, true)
  const upload = op('/media', 'post')
  t.same(Object.keys(upload.requestBody?.content ?? {}), ['application/octet-stream', '*/*'])
  t.match(upload.requestBody?.content['application/octet-stream']?.schema, { type: 'string', format: 'binary' })
  t.ok('Location' in ((upload.responses?.['201'] as { headers?: object }).headers ?? {}), 'the upload\'s Location')
  for (const [path, method] of [['/media/{id}', 'get'], ['/downloads', 'post'], ['/conversations/{conversationID}/messages/{msgID}/elements/{index}/content', 'get']] as const) {
    const content = op(path, method).responses?.['200']?.content ?? {}
    t.ok(Object.keys(content).includes('application/octet-stream'), `${method.toUpperCase()} ${path}: binary`)
    for (const media of Object.values(content)) t.match(media.schema, { type: 'string', format: 'binary' })
  }
  t.match(committed.servers, [{ url: /^http:\/\/127\.0\.0\.1:8080$/ }], 'a server SDKs can use as it is')
  t.equal(committed.info.title, 'timgate API')
  t.same(op('/conversations/{conversationID}/messages', 'post').requestBody?.content['application/json']?.example, { message_elem_array: [{ elem_type: 0, text_elem_content: 'hello' }] }, 'a small text message to try')
  t.notOk(/<userID>|<groupID>/.test(committed.info.description ?? ''), 'the error table escapes <…>')
})

t.test('when /docs is opened, then it is titled timgate API and its "Try it out" examples work against the gateway serving it', async t => {
  const { app, as } = await build(t)
  const page = await app.inject({ method: 'GET', url: '/docs/' })
  t.match(page.body, /<title>timgate API<\/title>/)
  const spec = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as Document
  t.same(spec.servers?.[0], { url: '/', description: 'this gateway' }, 'Try it out goes to this gateway')
  // Each operation's examples, sent as the UI sends them, by user1.
  const tried = async (path: string, method: string) => {
    const o = spec.paths[path]?.[method] as AnyOp
    const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String((o.parameters ?? []).find(p => p.name === name)?.example)))
    const body = o.requestBody?.content['application/json']?.example
    return app.inject({ method: method.toUpperCase() as 'POST', url, headers: as('user1'), ...(body !== undefined && { payload: body as object }) })
  }
  const sent = await tried('/conversations/{conversationID}/messages', 'post')
  t.equal(sent.statusCode, 200, sent.body)
  t.equal(sent.json().message_sender, 'user1', 'the sender is the caller')
  for (const [path, method, status] of [
    ['/conversations/{conversationID}/messages', 'get', 200],
    ['/conversations/{conversationID}/messages/query', 'post', 200],
    ['/conversations/{conversationID}/messages/find', 'post', 200],
    ['/conversations/{conversationID}/read', 'post', 204],
    ['/conversations/{conversationID}/messages/import', 'post', 200],
    ['/conversations/{conversationID}/messages/save', 'post', 200],
    ['/messages/batch', 'post', 200],
    ['/groups', 'post', 201],
    ['/groups/{groupID}', 'get', 200],
    ['/conversations/{conversationID}/revoke', 'post', 404],
    ['/conversations/{conversationID}/messages/delete', 'post', 404],
  ] as const) {
    const res = await tried(path, method)
    t.equal(res.statusCode, status, `${method.toUpperCase()} ${path}: ${res.body.slice(0, 200)}`)
  }
})

t.test('when every element type, a group tip, a revoke and an error are answered, then the answers conform to the document\'s schemas', async t => {
  const { app, as } = await build(t)
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false })
  ajv.addSchema({ ...committed, $id: 'timgate' })
  const conforms = (name: string, value: unknown, what: string) => {
    const validate = ajv.getSchema(`timgate#/components/schemas/${name}`)
    t.ok(validate?.(value), `${what} is a ${name}: ${JSON.stringify(validate?.errors?.slice(0, 3) ?? [])}`)
  }
  const elems = [
    { elem_type: 0, text_elem_content: 't' },
    { elem_type: 1, image_elem_orig_url: 'https://cdn.example/a.png', image_elem_level: 1, image_elem_orig_pic_width: 10 },
    { elem_type: 2, sound_elem_file_size: 10, sound_elem_file_time: 3, sound_elem_url: 'https://cdn.example/a.mp3' },
    { elem_type: 3, custom_elem_data: '{"k":1}', custom_elem_desc: 'd' },
    { elem_type: 4, file_elem_file_name: 'a.pdf', file_elem_file_size: 100, file_elem_url: 'https://cdn.example/a.pdf' },
    { elem_type: 6, face_elem_index: 3 },
    { elem_type: 7, location_elem_longitude: -180, location_elem_latitude: 90, location_elem_desc: 'edge' },
    { elem_type: 9, video_elem_video_type: 'mp4', video_elem_video_size: 1, video_elem_video_duration: 2, video_elem_video_url: 'https://cdn.example/v.mp4' },
    { elem_type: 12, merge_elem_title: 't', merge_elem_abstract_array: ['a'], merge_elem_compatible_text: 'c', merge_elem_message_array: [{ message_elem_array: [{ elem_type: 0, text_elem_content: 'x' }] }] },
  ]
  const user1 = as('user1')
  const sent = await app.inject({ method: 'POST', url: '/conversations/c2c_user2/messages', headers: user1, payload: { message_elem_array: elems } })
  t.equal(sent.statusCode, 200, sent.body)
  conforms('Message', sent.json(), 'a sent message with every element type')
  const group = await app.inject({ method: 'POST', url: '/groups', headers: user1, payload: { group_id: 'g1', group_member_array: ['user2'] } })
  conforms('Group', group.json(), 'a new group')
  const tips = await app.inject({ method: 'GET', url: '/conversations/group_g1/messages', headers: user1 })
  t.ok((tips.json() as Message[]).some(m => m.message_elem_array.some(e => e.elem_type === 5)), 'a group tip is listed')
  for (const m of tips.json() as Message[]) conforms('Message', m, 'a listed group message')
  const revoked = await app.inject({ method: 'POST', url: '/conversations/c2c_user2/revoke', headers: user1, payload: sent.json() })
  conforms('Message', revoked.json(), 'a tombstone')
  const upload = await app.inject({ method: 'POST', url: '/media', headers: user1, payload: Buffer.from('bytes') })
  conforms('Upload', upload.json(), 'an upload')
  conforms('ErrorBody', (await app.inject({ method: 'GET', url: '/conversations/bad/messages', headers: user1 })).json(), 'an error')
  t.notOk(ajv.getSchema('timgate#/components/schemas/Elem')?.({ elem_type: 0 }), 'the check can fail: a text element without its text is no Elem')
})

const generatedDir = fileURLToPath(new URL('generated/', import.meta.url))
const tscBin = createRequire(import.meta.url).resolve('typescript/bin/tsc')

/** What an SDK user writes: send, list, find by locator, typed by the generated `paths`. */
const sdkCheckSource = `import createClient from 'openapi-fetch'
import type { paths } from './timgate.js'

type Message = paths['/conversations/{conversationID}/messages']['post']['responses'][200]['content']['application/json']

export async function sendListFind (baseUrl: string, authorization: string, conversationID: string, content: string): Promise<{ sent: Message, listed: Message[], found: Message[] }> {
  const client = createClient<paths>({ baseUrl, headers: { authorization } })
  const path = { conversationID }
  const send = await client.POST('/conversations/{conversationID}/messages', {
    params: { path },
    body: { message_elem_array: [{ elem_type: 0, text_elem_content: content }] },
  })
  if (send.error !== undefined) throw new Error(\`send: \${send.error.code} \${send.error.desc}\`)
  const sent = send.data
  const list = await client.GET('/conversations/{conversationID}/messages', { params: { path, query: { count: 100 } } })
  if (list.error !== undefined) throw new Error(\`list: \${list.error.code} \${list.error.desc}\`)
  const find = await client.POST('/conversations/{conversationID}/messages/find', {
    params: { path },
    body: [{ message_locator_seq: sent.message_seq, message_locator_rand: sent.message_rand, message_locator_time: sent.message_server_time }],
  })
  if (find.error !== undefined) throw new Error(\`find: \${find.error.code} \${find.error.desc}\`)
  return { sent, listed: list.data, found: find.data }
}

/** Media: openapi-fetch types a binary body as a string and needs telling how bodies go and come back (docs/openapi.md). */
export async function uploadDownload (baseUrl: string, authorization: string, file: Blob): Promise<{ contentType: string, bytes: Uint8Array }> {
  const client = createClient<paths>({ baseUrl, headers: { authorization } })
  const up = await client.POST('/media', {
    body: file as unknown as string,
    bodySerializer: (b: unknown) => b as Blob,
    headers: { 'content-type': 'application/octet-stream' },
  })
  if (up.error !== undefined) throw new Error(\`upload: \${up.error.code} \${up.error.desc}\`)
  const got = await client.GET('/media/{id}', { params: { path: { id: up.data.id } }, parseAs: 'blob' })
  if (got.error !== undefined) throw new Error(\`download: \${got.error.code} \${got.error.desc}\`)
  return { contentType: up.data.content_type, bytes: new Uint8Array(await got.data.arrayBuffer()) }
}
`

interface Message { message_elem_array: Array<{ elem_type: number }> }
interface SentMessage { message_msg_id: string, message_seq: number, message_rand: number, message_server_time: number, message_elem_array: unknown[] }
interface SdkCheck {
  uploadDownload (baseUrl: string, authorization: string, file: Blob): Promise<{ contentType: string, bytes: Uint8Array }>
  sendListFind (baseUrl: string, authorization: string, conversationID: string, content: string): Promise<{ sent: SentMessage, listed: SentMessage[], found: SentMessage[] }>
}

t.test('when openapi-typescript generates an SDK from the document, then it typechecks and drives send → list → find on a live server', async t => {
  mkdirSync(generatedDir, { recursive: true })
  const typesFile = join(generatedDir, 'timgate.d.ts')
  writeFileSync(typesFile, COMMENT_HEADER + astToString(await openapiTS(committed as unknown as OpenAPI3)))
  // A .ts file under test/ would join the project's own typecheck; it only lives for this test.
  // tsc checks it and writes the .js beside it, which is what this test imports: the compiled
  // run of the suite (npm test) has no TypeScript loader.
  const checkFile = join(generatedDir, 'sdk-check.ts')
  const checkJs = join(generatedDir, 'sdk-check.js')
  writeFileSync(checkFile, sdkCheckSource)
  t.teardown(() => { rmSync(checkFile, { force: true }); rmSync(checkJs, { force: true }) })

  const tsc = await promisify(execFile)('env', [...unhooked, process.execPath,
    tscBin, '--strict', '--noUncheckedIndexedAccess', '--skipLibCheck',
    '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', checkFile,
  ]).then(() => '', (err: { stdout?: string, message: string }) => err.stdout ?? err.message)
  t.equal(tsc, '', 'the generated types and the openapi-fetch calls typecheck')

  const { app, as } = await build(t)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const sdk = await import(pathToFileURL(checkJs).href) as SdkCheck
  const { sent, listed, found } = await sdk.sendListFind(baseUrl, as('user1').authorization!, 'c2c_user2', 'hello from the SDK')
  t.match(sent, { message_seq: Number, message_rand: Number, message_server_time: Number, message_msg_id: String })
  t.ok(listed.some(m => m.message_msg_id === sent.message_msg_id), 'the sent message is listed')
  t.equal(found.length, 1, 'one message per matching locator')
  t.equal(found[0]?.message_msg_id, sent.message_msg_id, 'the locator finds the sent message')
  const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1')
  const media = await sdk.uploadDownload(baseUrl, as('user1').authorization!, new Blob([new Uint8Array(gif)]))
  t.equal(media.contentType, 'image/gif', 'the kind, from the bytes')
  t.same(Buffer.from(media.bytes), gif, 'uploaded and downloaded byte for byte')
})
