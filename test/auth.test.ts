import t from 'tap'
import { deflateSync, inflateSync } from 'node:zlib'
import TLSSigAPIv2 from 'tls-sig-api-v2'
import { signUserSig, verifyUserSig } from '../src/auth/usersig.js'
import { TimError } from '../src/errors.js'
import { build, text, type TestApp } from './helper.js'

const SEND = '/conversations/c2c_bob/messages'
const HI = { message_elem_array: [{ elem_type: 0, text_elem_content: 'hi' }] }

/** Tencent's generator with its clock (Date.now) fixed at `unixSeconds`. */
function tencentSigAt (unixSeconds: number, sdkAppId: number, key: string, id: string, expire: number): string {
  const realNow = Date.now
  Date.now = () => unixSeconds * 1000
  try {
    return new TLSSigAPIv2.Api(sdkAppId, key).genUserSig(id, expire)
  } finally {
    Date.now = realNow
  }
}

/** The JSON inside a UserSig (Tencent base64 of zlib deflate). */
function decodeSig (sig: string): Record<string, unknown> {
  const b64 = sig.replace(/_/g, '=').replace(/-/g, '/').replace(/\*/g, '+')
  return JSON.parse(inflateSync(Buffer.from(b64, 'base64')).toString('utf8')) as Record<string, unknown>
}

function encodeSig (doc: unknown): string {
  return deflateSync(Buffer.from(JSON.stringify(doc))).toString('base64')
    .replace(/\+/g, '*').replace(/\//g, '-').replace(/=/g, '_')
}

const unixNow = () => Math.floor(Date.now() / 1000)

/** POSTs "hi" to c2c_bob with the given headers (no UserSig added). */
const sendWith = (app: TestApp['app'], headers: Record<string, string>) =>
  app.inject({ method: 'POST', url: SEND, headers, payload: HI })

/** Bob's view of his thread with alice: what a refused request must not have written. */
async function bobsThreadWithAlice (gw: TestApp): Promise<unknown[]> {
  const res = await gw.call('bob', 'GET', '/conversations/c2c_alice/messages')
  if (res.statusCode !== 200) throw new Error(`bob's list answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

t.test('when a UserSig comes from Tencent\'s tls-sig-api-v2 with the app\'s id and key, then it is accepted unchanged', async t => {
  const gw = await build(t)
  const sig = new TLSSigAPIv2.Api(gw.config.sdkAppId, gw.config.secretKey).genUserSig('alice', 86400)
  const res = await sendWith(gw.app, { authorization: `Bearer ${sig}` })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().message_sender, 'alice')
  t.equal(res.json().message_conv_id, 'bob')
  const seen = await bobsThreadWithAlice(gw)
  t.equal(seen.length, 1)
  t.match(seen[0], { message_sender: 'alice', message_elem_array: [{ elem_type: 0, text_elem_content: 'hi' }] })
})

t.test('when the scheme is written "bearer" in lower case, then the UserSig is still accepted', async t => {
  const gw = await build(t)
  const res = await sendWith(gw.app, { authorization: `bearer ${gw.sig('alice')}` })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().message_sender, 'alice')
})

/** The same deflate stream with bytes after it, re-encoded in Tencent's base64. */
function withTrailingBytes (sig: string): string {
  const raw = Buffer.from(sig.replace(/_/g, '=').replace(/-/g, '/').replace(/\*/g, '+'), 'base64')
  return Buffer.concat([raw, Buffer.from([0, 1, 2, 3])]).toString('base64').replace(/\+/g, '*').replace(/\//g, '-').replace(/=/g, '_')
}

t.test('when a UserSig is refused, then the answer is 401 {code, desc} with the catalogue\'s code and nothing is written', async t => {
  const gw = await build(t)
  const { sdkAppId, secretKey } = gw.config
  const tencent = new TLSSigAPIv2.Api(sdkAppId, secretKey)
  const good = tencent.genUserSig('alice', 86400)
  const doc = decodeSig(good)

  const cases: Array<[string, Record<string, string>, number]> = [
    ['no Authorization header', {}, 70002],
    ['an empty Authorization header', { authorization: '' }, 70002],
    ['a Basic scheme', { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` }, 70002],
    ['the UserSig without a scheme', { authorization: good }, 70002],
    ['"Bearer" and nothing else', { authorization: 'Bearer ' }, 70002],
    ['characters outside Tencent base64', { authorization: 'Bearer not/a+sig=' }, 70003],
    ['Tencent base64 that is not deflate', { authorization: 'Bearer abcdefgh' }, 70003],
    ['deflated text that is not JSON', { authorization: `Bearer ${deflateSync('hello').toString('base64').replace(/\+/g, '*').replace(/\//g, '-').replace(/=/g, '_')}` }, 70003],
    ['JSON without the TLS keys', { authorization: `Bearer ${encodeSig({ hello: 'world' })}` }, 70003],
    ['JSON null', { authorization: `Bearer ${encodeSig(null)}` }, 70003],
    ['a valid UserSig with bytes after it', { authorization: `Bearer ${good}AAAA` }, 70003],
    ['a valid UserSig with bytes after its deflate stream', { authorization: `Bearer ${withTrailingBytes(good)}` }, 70003],
    ['a string TLS.expire', { authorization: `Bearer ${encodeSig({ ...doc, 'TLS.expire': '86400' })}` }, 70003],
    ['the identifier changed after signing', { authorization: `Bearer ${encodeSig({ ...doc, 'TLS.identifier': 'mallory' })}` }, 70009],
    ['the expire stretched after signing', { authorization: `Bearer ${encodeSig({ ...doc, 'TLS.expire': 864000 })}` }, 70009],
    ['the time moved after signing', { authorization: `Bearer ${encodeSig({ ...doc, 'TLS.time': (doc['TLS.time'] as number) + 1 })}` }, 70009],
    ['the signature replaced', { authorization: `Bearer ${encodeSig({ ...doc, 'TLS.sig': Buffer.alloc(32, 7).toString('base64') })}` }, 70009],
    ['a short signature', { authorization: `Bearer ${encodeSig({ ...doc, 'TLS.sig': 'AAAA' })}` }, 70009],
    ['a UserSig signed with another key', { authorization: `Bearer ${new TLSSigAPIv2.Api(sdkAppId, 'not-the-key').genUserSig('alice', 86400)}` }, 70009],
    ['a UserSig for another app id', { authorization: `Bearer ${new TLSSigAPIv2.Api(sdkAppId + 1, secretKey).genUserSig('alice', 86400)}` }, 70014],
    ['a UserSig expired an hour ago (Tencent, clock in the past)', { authorization: `Bearer ${tencentSigAt(unixNow() - 7200, sdkAppId, secretKey, 'alice', 3600)}` }, 70001],
    ['a UserSig expired a second ago (signUserSig, past now)', { authorization: `Bearer ${signUserSig(sdkAppId, secretKey, 'alice', 60, unixNow() - 62)}` }, 70001],
    ['an identifier of 33 bytes', { authorization: `Bearer ${tencent.genUserSig('a'.repeat(33), 86400)}` }, 70013],
    ['an empty identifier', { authorization: `Bearer ${tencent.genUserSig('', 86400)}` }, 70013],
    ['an identifier with a control character', { authorization: `Bearer ${tencent.genUserSig('ali\u0001ce', 86400)}` }, 70013],
    ['a non-ASCII identifier', { authorization: `Bearer ${tencent.genUserSig('àlice', 86400)}` }, 70013],
  ]
  for (const [what, headers, code] of cases) {
    const res = await sendWith(gw.app, headers)
    t.equal(res.statusCode, 401, `${what}: status`)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['code', 'desc'], `${what}: body is {code, desc}`)
    t.equal(body.code, code, `${what}: code`)
    t.type(body.desc, 'string', `${what}: desc`)
    t.not(body.desc, '', `${what}: desc is not empty`)
  }
  t.same(await bobsThreadWithAlice(gw), [], 'no refused request wrote a message')
})

t.test('when a UserSig was accepted once and then expires, then the next request is 401 70001 (the cache does not keep it alive)', async t => {
  // The gateway's clock is the test's: expiry is reached by moving it, not by waiting.
  let clock = unixNow()
  const gw = await build(t, {}, { now: () => clock })
  const sig = signUserSig(gw.config.sdkAppId, gw.config.secretKey, 'alice', 1, clock)
  const first = await sendWith(gw.app, { authorization: `Bearer ${sig}` })
  t.equal(first.statusCode, 200, first.body)
  clock += 1
  const last = await sendWith(gw.app, { authorization: `Bearer ${sig}` })
  t.equal(last.statusCode, 200, 'still valid through its last second, also from the cache')
  clock += 1
  const second = await sendWith(gw.app, { authorization: `Bearer ${sig}` })
  t.equal(second.statusCode, 401, second.body)
  t.equal(second.json().code, 70001)
  t.equal((await bobsThreadWithAlice(gw)).length, 2, 'only the requests within its life wrote')
})

t.test('when the admin sends with X-TIM-On-Behalf-Of: alice, then the message is alice\'s and bob sees it from alice', async t => {
  const gw = await build(t)
  t.equal(gw.config.adminIdentifier, 'administrator')
  const res = await gw.call('administrator', 'POST', SEND, HI, { 'x-tim-on-behalf-of': 'alice' })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().message_sender, 'alice')
  t.equal(res.json().message_conv_id, 'bob', 'the conversation is seen from alice\'s side')
  t.equal(res.json().message_is_from_self, true)

  const bobs = await bobsThreadWithAlice(gw)
  t.equal(bobs.length, 1)
  t.match(bobs[0], { message_msg_id: res.json().message_msg_id, message_sender: 'alice', message_conv_id: 'alice', message_is_from_self: false })

  const alices = await gw.call('alice', 'GET', '/conversations/c2c_bob/messages')
  t.same(alices.json().map((m: { message_msg_id: string }) => m.message_msg_id), [res.json().message_msg_id], 'alice sees it as her own')
  const adminThread = await gw.call('bob', 'GET', '/conversations/c2c_administrator/messages')
  t.same(adminThread.json(), [], 'nothing landed in bob\'s thread with the admin')
})

t.test('when the admin reads with X-TIM-On-Behalf-Of: bob, then the list is bob\'s side of the thread', async t => {
  const gw = await build(t)
  const sent = await gw.call('alice', 'POST', SEND, text('for bob'))
  t.equal(sent.statusCode, 200)
  const res = await gw.call('administrator', 'GET', '/conversations/c2c_alice/messages', undefined, { 'x-tim-on-behalf-of': 'bob' })
  t.equal(res.statusCode, 200, res.body)
  t.same(res.json().map((m: { message_msg_id: string }) => m.message_msg_id), [sent.json().message_msg_id])
  t.equal(res.json()[0].message_conv_id, 'alice')
})

t.test('when a non-admin sends X-TIM-On-Behalf-Of, then 403 10007 and nothing is written', async t => {
  const gw = await build(t)
  const res = await gw.call('carol', 'POST', SEND, HI, { 'x-tim-on-behalf-of': 'alice' })
  t.equal(res.statusCode, 403, res.body)
  t.same(Object.keys(res.json()).sort(), ['code', 'desc'])
  t.equal(res.json().code, 10007)
  t.same(await bobsThreadWithAlice(gw), [])
  const carols = await gw.call('bob', 'GET', '/conversations/c2c_carol/messages')
  t.same(carols.json(), [])
  const self = await gw.call('alice', 'POST', SEND, HI, { 'x-tim-on-behalf-of': 'alice' })
  t.equal(self.statusCode, 403, 'not even for oneself')
  t.equal(self.json().code, 10007)
})

t.test('when TIM_ADMIN_IDENTIFIER names another account, then only that account may act for others', async t => {
  const gw = await build(t, { TIM_ADMIN_IDENTIFIER: 'boss' })
  const old = await gw.call('administrator', 'POST', SEND, HI, { 'x-tim-on-behalf-of': 'alice' })
  t.equal(old.statusCode, 403)
  t.equal(old.json().code, 10007)
  const boss = await gw.call('boss', 'POST', SEND, HI, { 'x-tim-on-behalf-of': 'alice' })
  t.equal(boss.statusCode, 200, boss.body)
  t.equal(boss.json().message_sender, 'alice')
})

t.test('when the admin names an invalid UserID in X-TIM-On-Behalf-Of, then 400 7003 and nothing is written', async t => {
  const gw = await build(t)
  for (const bad of ['a'.repeat(33), '']) {
    const res = await gw.call('administrator', 'POST', SEND, HI, { 'x-tim-on-behalf-of': bad })
    t.equal(res.statusCode, 400, `"${bad}": ${res.body}`)
    t.equal(res.json().code, 7003)
    t.type(res.json().desc, 'string')
  }
  const bobsAdmin = await gw.call('bob', 'GET', '/conversations/c2c_administrator/messages')
  t.same(bobsAdmin.json(), [])
})

t.test('when /health, /metrics, /openapi.json and /docs are asked without a UserSig, then they answer', async t => {
  const { app } = await build(t)
  const health = await app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 200, health.body)
  t.equal(health.json().status, 'ok')
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /^text\/plain/)
  const openapi = await app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(openapi.statusCode, 200)
  t.match(openapi.json(), { openapi: String, paths: Object })
  const docs = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(docs.statusCode, 200, '/docs')
  t.match(docs.headers['content-type'], /^text\/html/)
  t.match(docs.body, /swagger/i)
})

t.test('when a public route is asked with a bad UserSig, then it still answers', async t => {
  const { app } = await build(t)
  const res = await app.inject({ method: 'GET', url: '/health', headers: { authorization: 'Bearer garbage' } })
  t.equal(res.statusCode, 200)
})

t.test('signUserSig and verifyUserSig', async t => {
  const sdkAppId = 1400000001
  const key = 'k'.repeat(64)

  t.test('when a UserSig is signed, then it verifies to its identifier and expiry', async t => {
    const now = 1_700_000_000
    const sig = signUserSig(sdkAppId, key, 'alice', 600, now)
    t.same(verifyUserSig(sdkAppId, key, sig, now), { identifier: 'alice', expiresAt: now + 600 })
    t.same(verifyUserSig(sdkAppId, key, sig, now + 600), { identifier: 'alice', expiresAt: now + 600 }, 'valid through its last second')
    t.throws(() => verifyUserSig(sdkAppId, key, sig, now + 601), { code: 70001 })
  })

  t.test('when signUserSig and Tencent sign the same thing at the same second, then the UserSigs are identical', async t => {
    const now = 1_700_000_123
    const theirs = tencentSigAt(now, sdkAppId, key, 'user_1-x', 86400)
    t.equal(signUserSig(sdkAppId, key, 'user_1-x', 86400, now), theirs)
    t.same(verifyUserSig(sdkAppId, key, theirs, now + 10), { identifier: 'user_1-x', expiresAt: now + 86400 })
  })

  t.test('when verification fails, then it throws a TimError with status 401', async t => {
    const sig = signUserSig(sdkAppId, key, 'alice', 600)
    const cases: Array<[string, () => unknown, number]> = [
      ['wrong key', () => verifyUserSig(sdkAppId, 'other', sig), 70009],
      ['wrong app', () => verifyUserSig(sdkAppId + 1, key, sig), 70014],
      ['garbage', () => verifyUserSig(sdkAppId, key, '***'), 70003],
      ['too long', () => verifyUserSig(sdkAppId, key, 'a'.repeat(5000)), 70003],
    ]
    for (const [what, fn, code] of cases) {
      try {
        fn()
        t.fail(`${what}: did not throw`)
      } catch (err) {
        t.ok(err instanceof TimError, `${what}: a TimError`)
        t.match(err, { code, statusCode: 401 }, what)
      }
    }
  })
})
