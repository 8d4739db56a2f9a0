import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript'
import { generateOpenApi, OPENAPI_FILE } from '../scripts/openapi.js'
import { catalogue } from '../src/errors.js'
import { build } from './helper.js'

interface Schema { type?: string, required?: string[], properties?: Record<string, Schema> }
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
  info: { description?: string }
  tags?: Array<{ name: string }>
  security?: unknown[]
  paths: Record<string, Record<string, Operation>>
}

const committedText = readFileSync(OPENAPI_FILE, 'utf8')
const committed = JSON.parse(committedText) as Document

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
      const schema = op.responses?.[s]?.content?.['application/json']?.schema
      t.match(schema, {
        type: 'object',
        required: ['code', 'desc'],
        properties: { code: { type: 'integer' }, desc: { type: 'string' } },
      }, `${name} ${s} is {code, desc}`)
    }
  }
  const description = committed.info.description ?? ''
  for (const e of catalogue) {
    t.ok(description.includes(`| ${e.code} | ${e.status} | ${e.when} |`), `info.description lists ${e.code} (HTTP ${e.status})`)
  }
})

const generatedDir = fileURLToPath(new URL('generated/', import.meta.url))
const tscBin = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url))

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
`

interface SentMessage { message_msg_id: string, message_seq: number, message_rand: number, message_server_time: number, message_elem_array: unknown[] }
interface SdkCheck {
  sendListFind (baseUrl: string, authorization: string, conversationID: string, content: string): Promise<{ sent: SentMessage, listed: SentMessage[], found: SentMessage[] }>
}

t.test('when openapi-typescript generates an SDK from the document, then it typechecks and drives send → list → find on a live server', async t => {
  mkdirSync(generatedDir, { recursive: true })
  const typesFile = join(generatedDir, 'timgate.d.ts')
  writeFileSync(typesFile, COMMENT_HEADER + astToString(await openapiTS(committed as unknown as OpenAPI3)))
  // A .ts file under test/ would join the project's own typecheck; it only lives for this test.
  const checkFile = join(generatedDir, 'sdk-check.ts')
  writeFileSync(checkFile, sdkCheckSource)
  t.teardown(() => rmSync(checkFile, { force: true }))

  const tsc = await promisify(execFile)(process.execPath, [
    tscBin, '--noEmit', '--strict', '--noUncheckedIndexedAccess', '--skipLibCheck',
    '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', checkFile,
  ]).then(() => '', (err: { stdout?: string, message: string }) => err.stdout ?? err.message)
  t.equal(tsc, '', 'the generated types and the openapi-fetch calls typecheck')

  const { app, as } = await build(t)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const sdk = await import(pathToFileURL(checkFile).href) as SdkCheck
  const { sent, listed, found } = await sdk.sendListFind(baseUrl, as('user1').authorization!, 'c2c_user2', 'hello from the SDK')
  t.match(sent, { message_seq: Number, message_rand: Number, message_server_time: Number, message_msg_id: String })
  t.ok(listed.some(m => m.message_msg_id === sent.message_msg_id), 'the sent message is listed')
  t.equal(found.length, 1, 'one message per matching locator')
  t.equal(found[0]?.message_msg_id, sent.message_msg_id, 'the locator finds the sent message')
})
