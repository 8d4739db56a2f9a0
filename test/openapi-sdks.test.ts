import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createClient } from '@hey-api/openapi-ts'
import { generate } from 'openapi-typescript-codegen'
import { OPENAPI_FILE } from '../scripts/openapi.js'
import { build } from './helper.js'
import { unhooked } from './fixtures/tsc.js'

/**
 * SDKs as a backend developer makes them (docs/openapi.md): generated from the committed
 * openapi/openapi.json with @hey-api/openapi-ts and openapi-typescript-codegen (pinned in
 * package.json), offline, type-checked under --strict, and driven against a listening
 * gateway. No Content-Type is set by hand: the document must make the clients send it.
 */

const tscBin = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const generatedRoot = fileURLToPath(new URL('generated/', import.meta.url))

/** A 1×1 PNG: what a chat client uploads. */
const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
  '1f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd40000000049454e44ae426082', 'hex')

/** What a user of the hey-api SDK writes: every type comes from the document. */
const heyApiSource = `import { createClient } from './hey/client/index.js'
import { downloadElement, getMedia, importMessages, listMessages, reportRead, revokeMessage, sendMessage, uploadMedia } from './hey/sdk.gen.js'
import type { Elem, Message, Upload } from './hey/types.gen.js'

export interface Outcome { upload: Upload, sent: Message, texts: string[], imported: Message[], downloaded: Uint8Array, downloadType: string | null, media: Uint8Array, revoked: Message }

function ok<T> (r: { data?: T, error?: unknown, response: Response }): T {
  if (r.error !== undefined || r.data === undefined) throw new Error(\`\${r.response.status} \${JSON.stringify(r.error)}\`)
  return r.data
}

export async function drive (baseUrl: string, authorization: string, conversationID: string, other: string, png: Uint8Array<ArrayBuffer>): Promise<Outcome> {
  const client = createClient({ baseUrl, headers: { authorization } })
  const path = { conversationID }
  const upload = ok(await uploadMedia({ client, body: new Blob([png]) }))
  const image: Elem = { elem_type: 1, image_elem_orig_id: upload.id }
  const sent = ok(await sendMessage({ client, path, body: { message_elem_array: [{ elem_type: 0, text_elem_content: 'hello from hey-api' }, image] }, headers: { 'Idempotency-Key': 'hey-' + upload.id } }))
  const listed = ok(await listMessages({ client, path, query: { count: 10 } }))
  // Received elements are typed: narrowing on elem_type gives the text.
  const texts = listed.flatMap(m => m.message_elem_array.flatMap(e => e.elem_type === 0 ? [e.text_elem_content] : []))
  // A listed message goes back as it is, to import.
  const imported = ok(await importMessages({ client, path: { conversationID: other }, body: listed }))
  const read = await reportRead({ client, path })
  if (read.response.status !== 204) throw new Error('read: ' + read.response.status)
  const content = await downloadElement({ client, path: { conversationID, msgID: sent.message_msg_id, index: 1 } })
  const downloaded = new Uint8Array(await ok(content).arrayBuffer())
  const media = new Uint8Array(await ok(await getMedia({ client, path: { id: upload.id } })).arrayBuffer())
  const revoked = ok(await revokeMessage({ client, path, body: sent }))
  return { upload, sent, texts, imported, downloaded, downloadType: content.response.headers.get('content-type'), media, revoked }
}
`

/** The same with openapi-typescript-codegen: its upload is byte-exact, its downloads are text (docs/openapi.md). */
const codegenSource = `import { MediaService, MessagesService, OpenAPI } from './codegen/index'
import type { Message, Upload } from './codegen/index'

export async function drive (baseUrl: string, authorization: string, conversationID: string, png: Uint8Array<ArrayBuffer>): Promise<{ upload: Upload, sent: Message, listed: Message[], revoked: Message }> {
  OpenAPI.BASE = baseUrl
  OpenAPI.HEADERS = { authorization }
  const upload = await MediaService.uploadMedia({ requestBody: new Blob([png]) })
  const sent = await MessagesService.sendMessage({ conversationId: conversationID, requestBody: { message_elem_array: [{ elem_type: 0, text_elem_content: 'hello from codegen' }, { elem_type: 1, image_elem_orig_id: upload.id }] } })
  const listed = await MessagesService.listMessages({ conversationId: conversationID, count: 10 })
  const texts: string[] = listed.flatMap(m => m.message_elem_array.flatMap(e => e.elem_type === 0 ? [e.text_elem_content] : []))
  if (texts.length === 0) throw new Error('no text')
  const revoked = await MessagesService.revokeMessage({ conversationId: conversationID, requestBody: sent })
  return { upload, sent, listed, revoked }
}
`

interface Upload { id: string, size: number, content_type: string, sha256: string }
interface Message { message_msg_id: string, message_status: number, message_elem_array: Array<{ elem_type: number, text_elem_content?: string }> }
interface HeyApiCheck {
  drive (baseUrl: string, authorization: string, conversationID: string, other: string, png: Uint8Array): Promise<{
    upload: Upload, sent: Message, texts: string[], imported: Message[], downloaded: Uint8Array, downloadType: string | null, media: Uint8Array, revoked: Message
  }>
}
interface CodegenCheck {
  drive (baseUrl: string, authorization: string, conversationID: string, png: Uint8Array): Promise<{ upload: Upload, sent: Message, listed: Message[], revoked: Message }>
}

// Generated once for the file, into a directory of its own under test/generated/ (ignored by git, eslint and the project's typecheck).
mkdirSync(generatedRoot, { recursive: true })
const dir = mkdtempSync(join(generatedRoot, 'sdks-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const started = Date.now()
await createClient({ input: OPENAPI_FILE, output: { path: join(dir, 'hey'), importFileExtension: '.js' }, plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'], logs: { level: 'silent' } })
await generate({ input: OPENAPI_FILE, output: join(dir, 'codegen'), httpClient: 'fetch', useOptions: true, useUnionTypes: true })
writeFileSync(join(dir, 'hey-check.ts'), heyApiSource)
writeFileSync(join(dir, 'codegen-check.ts'), codegenSource)
const out = join(dir, 'out')
// CommonJS, so that codegen's extensionless imports load as they are.
const tsc = await promisify(execFile)('env', [...unhooked, process.execPath,
  tscBin, '--strict', '--noUncheckedIndexedAccess', '--skipLibCheck', '--target', 'es2022', '--lib', 'es2022,dom',
  '--module', 'commonjs', '--moduleResolution', 'node10', '--ignoreDeprecations', '5.0', '--types', 'node', '--outDir', out,
  join(dir, 'hey-check.ts'), join(dir, 'codegen-check.ts'),
], { cwd: dir }).then(() => '', (err: { stdout?: string, message: string }) => err.stdout ?? err.message)
writeFileSync(join(out, 'package.json'), '{"type":"commonjs"}\n')
t.comment(`generated and compiled in ${Date.now() - started} ms`)
const load = createRequire(join(out, 'x.js'))

t.test('when SDKs are generated with @hey-api/openapi-ts and openapi-typescript-codegen, then they and the code using them typecheck under --strict', async t => {
  t.equal(tsc, '', 'tsc --strict has nothing to say')
})

t.test('when the hey-api SDK drives the gateway, then upload, send, list, import, read, byte-exact downloads and revoke work without a Content-Type set by hand', async t => {
  if (tsc !== '') return t.fail('the SDKs do not compile (above)')
  const { app, as } = await build(t)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const sdk = load('./hey-check.js') as HeyApiCheck
  const r = await sdk.drive(baseUrl, as('user1').authorization!, 'c2c_user2', 'c2c_user3', new Uint8Array(PNG))
  t.match(r.upload, { size: PNG.length, content_type: 'image/png' }, 'sent as application/octet-stream, found to be a PNG')
  t.same(r.texts, ['hello from hey-api'], 'the listed text, typed')
  t.equal(r.imported.length, 1, 'a listed message (its image too) imported as it is')
  t.equal(r.imported[0]?.message_status, 5)
  t.same(Buffer.from(r.downloaded), PNG, 'the element\'s content, byte for byte')
  t.equal(r.downloadType, 'image/png')
  t.same(Buffer.from(r.media), PNG, 'the upload, byte for byte')
  t.equal(r.revoked.message_msg_id, r.sent.message_msg_id)
  t.equal(r.revoked.message_status, 6, 'a sent Message passed back as it is revokes it')
})

t.test('when the openapi-typescript-codegen SDK drives the gateway, then upload, send, list and revoke work', async t => {
  if (tsc !== '') return t.fail('the SDKs do not compile (above)')
  const { app, as } = await build(t)
  const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' })
  const sdk = load('./codegen-check.js') as CodegenCheck
  const r = await sdk.drive(baseUrl, as('user1').authorization!, 'c2c_user2', new Uint8Array(PNG))
  t.match(r.upload, { size: PNG.length, content_type: 'image/png' }, 'the upload is byte-exact')
  const stored = await app.inject({ method: 'GET', url: `/media/${r.upload.id}`, headers: as('user1') })
  t.same(stored.rawPayload, PNG)
  t.ok(r.listed.some(m => m.message_msg_id === r.sent.message_msg_id), 'the sent message is listed')
  t.equal(r.revoked.message_status, 6)
})
