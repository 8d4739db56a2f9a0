import t, { type Test } from 'tap'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import { build, text, type TestApp } from './helper.js'

/**
 * Property-based fuzzing of every writing endpoint and of path and query parameters. Seeded:
 * a failure prints its seed, path and the shrunk counterexample, and the same run comes back
 * with the same seed. Every answer is < 500 with a JSON {code ≠ 0, desc} on 4xx, and a
 * refused request changes nothing that alice can see in her thread with bob or in group g1.
 */
const SEED = 42
const ANSWER_MS = 10_000
/**
 * Cases per property are sized so that the file takes a few seconds on a quiet machine and
 * stays far inside tap's per-file timeout on PostgreSQL on a loaded one (6500 cases took
 * 120 s there). The seed fixes the cases: a larger TIMGATE_FUZZ_SCALE runs the same first
 * ones and more after them (TIMGATE_FUZZ_SCALE=3.25 is the former 6500).
 */
const SCALE = Number(process.env.TIMGATE_FUZZ_SCALE ?? '1') || 1
const runs = (n: number) => Math.max(1, Math.round(n * SCALE))

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Body = { [key: string]: Json } | Json[]

interface Endpoint { name: string, url: (conv: string) => string, body: (fx: Fixture) => Body }
interface Fixture { g: TestApp, mine: Record<string, Json>, theirs: Record<string, Json> }

/** The writing endpoints, each with a body it would accept. */
const ENDPOINTS: Endpoint[] = [
  { name: 'send', url: c => `/conversations/${c}/messages`, body: () => text('fuzz') },
  { name: 'query', url: c => `/conversations/${c}/messages/query`, body: () => ({ msg_getmsglist_param_count: 5, msg_getmsglist_param_is_forward: true }) },
  {
    name: 'find',
    url: c => `/conversations/${c}/messages/find`,
    body: fx => [{ message_locator_seq: fx.mine.message_seq!, message_locator_rand: fx.mine.message_rand!, message_locator_time: fx.mine.message_server_time! }],
  },
  { name: 'read', url: c => `/conversations/${c}/read`, body: fx => ({ ...fx.theirs }) },
  { name: 'revoke', url: c => `/conversations/${c}/revoke`, body: fx => ({ ...fx.mine }) },
  { name: 'import', url: c => `/conversations/${c}/messages/import`, body: () => [text('imported', { message_sender: 'alice', message_server_time: 1_600_000_000, message_rand: 7 })] },
  { name: 'save', url: c => `/conversations/${c}/messages/save`, body: () => text('saved') },
  { name: 'delete', url: c => `/conversations/${c}/messages/delete`, body: fx => ({ msg_delete_param_msg: { ...fx.mine }, msg_delete_param_is_ramble: false }) },
  { name: 'batch', url: () => '/messages/batch', body: () => ({ msg_batch_send_param_identifier_array: ['bob', 'carol'], msg_batch_send_param_msg: text('batch') }) },
  { name: 'groups', url: () => '/groups', body: () => ({ group_name: 'fuzz', group_member_array: ['bob'] }) },
]

const KEYS = ('message_client_time message_cloud_custom_str message_conv_id message_conv_type message_custom_int message_custom_str ' +
  'message_elem_array message_group_at_user_array message_is_from_self message_is_online_msg message_is_peer_read message_is_read ' +
  'message_locator_rand message_locator_seq message_locator_time message_locator_is_self message_msg_id message_need_read_receipt ' +
  'message_offlie_push_config message_offline_push_config message_platform message_priority message_rand message_sender message_seq ' +
  'message_server_time message_status message_unique_id msg_batch_send_param_identifier_array msg_batch_send_param_msg ' +
  'msg_delete_param_is_ramble msg_delete_param_is_remble msg_delete_param_msg msg_getmsglist_param_count msg_getmsglist_param_is_forward ' +
  'msg_getmsglist_param_is_remble msg_getmsglist_param_last_msg msg_getmsglist_param_last_msg_seq msg_getmsglist_param_message_seq_array ' +
  'msg_getmsglist_param_message_type_array msg_getmsglist_param_time_begin msg_getmsglist_param_time_period group_id group_name ' +
  'group_member_array').split(' ')
const ELEM_KEYS = ('elem_type text_elem_content image_elem_orig_id image_elem_orig_url image_elem_level sound_elem_file_id sound_elem_url ' +
  'sound_elem_file_time file_elem_file_id file_elem_url file_elem_file_name custom_elem_data face_elem_index location_elem_latitude ' +
  'location_elem_longitude location_elem_desc video_elem_video_id video_elem_image_id merge_elem_title merge_elem_abstract_array ' +
  'merge_elem_compatible_text merge_elem_message_array group_tips_elem_tip_type').split(' ')

/** Values that sit on the edges of the SDK's types, mixed with random JSON. */
const edgeValue = fc.constantFrom<Json>(-1, 0, 1, -0, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e308, -1e308, '', '20', 'true', 'null',
  true, false, null, [], {}, [null], { elem_type: 0 }, 'x'.repeat(5000), '\u0000', '\ud83d\ude00', 'c2c_bob', 'administrator')
const anyValue: fc.Arbitrary<Json> = fc.oneof(edgeValue, fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>)
const anyKey = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...KEYS) }, fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype'))
const anyElemKey = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...ELEM_KEYS) }, fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor'))

type Mutation = { deep: boolean } & ({ kind: 'del', key: string } | { kind: 'set', key: string, value: Json } | { kind: 'elem', key: string, value: Json } |
  { kind: 'delElem', key: string } | { kind: 'replace', value: Json })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('del' as const), key: anyKey, deep: fc.boolean() }),
  fc.record({ kind: fc.constant('set' as const), key: anyKey, value: anyValue, deep: fc.boolean() }),
  fc.record({ kind: fc.constant('elem' as const), key: anyElemKey, value: anyValue, deep: fc.boolean() }),
  fc.record({ kind: fc.constant('delElem' as const), key: anyElemKey, deep: fc.boolean() }),
  fc.record({ kind: fc.constant('replace' as const), value: anyValue, deep: fc.constant(false) }),
)

/** An own property, also for `__proto__`, so that JSON.stringify writes it. */
function put (o: Record<string, Json>, key: string, value: Json) {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })
}

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The message (or parameter object) of a body that mutations apply to. */
function target (body: Body, deep: boolean): Record<string, Json> | undefined {
  const first = Array.isArray(body) ? body[0] : body
  if (!isObject(first)) return undefined
  const inner = first.msg_batch_send_param_msg ?? first.msg_delete_param_msg
  return isObject(inner) && deep ? inner : first
}

function mutate (body: Body, mutations: Mutation[]): Json {
  let current: Json = structuredClone(body)
  for (const m of mutations) {
    if (m.kind === 'replace') {
      current = m.value
      continue
    }
    if (!isObject(current) && !Array.isArray(current)) continue
    const o = target(current, m.deep)
    if (o === undefined) continue
    if (m.kind === 'del') delete o[m.key]
    else if (m.kind === 'set') put(o, m.key, m.value)
    else {
      const elems = o.message_elem_array
      const elem = Array.isArray(elems) ? elems[0] : undefined
      if (!isObject(elem)) continue
      if (m.kind === 'elem') put(elem, m.key, m.value)
      else delete elem[m.key]
    }
  }
  return current
}

interface Req { method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: string | Buffer, headers?: Record<string, string> }

/** A fresh gateway with some history between alice and bob and a group g1 of both. */
async function fixture (t: Test): Promise<Fixture> {
  // Thousands of requests a second from one identity: the rate limit (tested on its own
  // in rate-limit.test.ts) would answer 429 depending on the machine's speed.
  const g = await build(t, { TIM_RATE_LIMIT: '0' })
  const mine = (await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('one'))).json() as Record<string, Json>
  await g.call('alice', 'POST', '/conversations/c2c_bob/messages', text('two'))
  const theirs = (await g.call('bob', 'POST', '/conversations/c2c_alice/messages', text('three'))).json() as Record<string, Json>
  await g.call('bob', 'POST', '/conversations/c2c_alice/messages', text('four'))
  const group = await g.call('alice', 'POST', '/groups', { group_id: 'g1', group_member_array: ['bob'] })
  t.equal(group.statusCode, 201, 'group g1 made')
  await g.call('bob', 'POST', '/conversations/group_g1/messages', text('in the group'))
  return { g, mine, theirs }
}

/** What alice sees of her thread with bob and of group g1: a refused request must not change it. */
async function snapshot (g: TestApp): Promise<string> {
  const [c2c, group, members] = await Promise.all([
    g.call('alice', 'GET', '/conversations/c2c_bob/messages?count=100'),
    g.call('alice', 'GET', '/conversations/group_g1/messages?count=100'),
    g.call('alice', 'GET', '/groups/g1'),
  ])
  return `${c2c.statusCode} ${c2c.body}\n${group.statusCode} ${group.body}\n${members.body}`
}

/** Sends one request as alice; an error or no answer within ANSWER_MS is a dropped connection. */
async function send (g: TestApp, req: Req): Promise<LightMyRequestResponse> {
  const timer = new AbortController()
  const answer = g.app.inject({ method: req.method, url: req.url, headers: { ...g.as('alice'), ...req.headers }, ...(req.payload !== undefined && { payload: req.payload }) })
  const timeout = new Promise<never>((_resolve, reject) => {
    const id = setTimeout(() => reject(new Error(`no answer within ${ANSWER_MS} ms (dropped)`)), ANSWER_MS)
    timer.signal.addEventListener('abort', () => clearTimeout(id))
  })
  try {
    return await Promise.race([answer, timeout])
  } finally {
    timer.abort()
  }
}

/** Why `res` breaks the contract, or undefined. */
function problem (res: LightMyRequestResponse): string | undefined {
  if (res.statusCode >= 500) return `${res.statusCode}: ${res.body.slice(0, 500)}`
  if (res.statusCode < 400) return undefined
  let body: unknown
  try {
    body = res.json()
  } catch {
    return `${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`
  }
  if (!isObject(body) || typeof body.code !== 'number' || body.code === 0 || typeof body.desc !== 'string') {
    return `${res.statusCode} without {code ≠ 0, desc}: ${res.body.slice(0, 200)}`
  }
  return undefined
}

/**
 * Runs `numRuns` requests made by `arb` against one fixture: each must meet the contract,
 * and after a refused one alice's view is unchanged. Reports the counterexample when not.
 */
async function fuzz<T> (t: Test, name: string, arb: fc.Arbitrary<T>, toReq: (v: T, fx: Fixture) => Req, numRuns: number) {
  const fx = await fixture(t)
  let before = await snapshot(fx.g)
  let refused = 0
  let accepted = 0
  const started = Date.now()
  const result = await fc.check(fc.asyncProperty(arb, async v => {
    const req = toReq(v, fx)
    const res = await send(fx.g, req)
    const bad = problem(res)
    if (bad !== undefined) throw new Error(`${req.method} ${req.url}: ${bad}`)
    if (res.statusCode >= 400) {
      refused++
      const after = await snapshot(fx.g)
      if (after !== before) throw new Error(`${req.method} ${req.url} was refused with ${res.statusCode} but changed alice's view`)
    } else {
      accepted++
      before = await snapshot(fx.g)
    }
  }), { seed: SEED, numRuns, endOnFailure: false })
  t.comment(`${name}: ${result.numRuns} cases (${refused} refused, ${accepted} accepted, counting shrinking) in ${Date.now() - started} ms`)
  t.notOk(result.failed, `${name}: ${result.numRuns} cases meet the contract`, { diagnostic: result.failed, message: fc.defaultReportMessage(result) ?? '' })
}

const endpoint = fc.constantFrom(...ENDPOINTS)
const conversation = fc.constantFrom('c2c_bob', 'c2c_bob', 'c2c_bob', 'group_g1')
const json = (v: unknown) => JSON.stringify(v) ?? 'null'
const jsonHeaders = { 'content-type': 'application/json' }

t.test('when writing endpoints get random JSON values, then every answer is < 500 with {code, desc} and a refusal writes nothing', async t => {
  await fuzz(t, 'random JSON', fc.tuple(endpoint, conversation, fc.jsonValue({ maxDepth: 5 })),
    ([e, c, v]) => ({ method: 'POST', url: e.url(c), payload: json(v), headers: jsonHeaders }), runs(400))
})

t.test('when valid bodies get wrong types, missing and extra keys, then every answer is < 500 with {code, desc} and a refusal writes nothing', async t => {
  await fuzz(t, 'mutated bodies', fc.tuple(endpoint, conversation, fc.array(mutation, { minLength: 1, maxLength: 4 })),
    ([e, c, ms], fx) => ({ method: 'POST', url: e.url(c), payload: json(mutate(e.body(fx), ms)), headers: jsonHeaders }), runs(600))
})

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'Application/JSON',
  'application/json;;', 'application/*', 'text/plain', 'text/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'application/octet-stream', 'image/png', '', '*/*', 'application/jsonx', 'application/merge-patch+json']
const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  { weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
  fc.string({ unit: 'binary-ascii', maxLength: 30 }).map(s => s.replace(/[^\x20-\x7e]/g, '')),
)
const INVALID_UTF8 = [[0x80], [0xff], [0xc3, 0x28], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]]

type Raw = { kind: 'pollute', at: number, key: '__proto__' | 'constructor', value: Json } | { kind: 'utf8', at: number, bytes: number[] } |
  { kind: 'truncate', at: number } | { kind: 'deep', depth: number, open: '[' | '{"a":' } | { kind: 'huge', size: number } |
  { kind: 'bytes', bytes: Uint8Array }
const raw: fc.Arbitrary<Raw> = fc.oneof(
  fc.record({ kind: fc.constant('pollute' as const), at: fc.nat(), key: fc.constantFrom('__proto__' as const, 'constructor' as const), value: anyValue }),
  fc.record({ kind: fc.constant('utf8' as const), at: fc.nat(), bytes: fc.constantFrom(...INVALID_UTF8) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('deep' as const), depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom(1000, 10_000, 100_000)), open: fc.constantFrom('[' as const, '{"a":' as const) }),
  fc.record({ kind: fc.constant('huge' as const), size: fc.constantFrom(0, 100, 13_000, (1 << 20) - 200, (1 << 20) + 10, 3 << 20) }),
  fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
)

/** The raw body text of `r` made from a valid body of `e`. */
function rawBody (r: Raw, valid: string): string | Buffer {
  switch (r.kind) {
    case 'pollute': {
      // After a random `{`: `"__proto__": …,` or `"constructor": {"prototype": …},`.
      const opens = [...valid.matchAll(/\{/g)].map(m => m.index)
      const at = (opens[r.at % Math.max(1, opens.length)] ?? -1) + 1
      if (at === 0) return `{"${r.key}":${json(r.value)}}`
      const value = r.key === 'constructor' ? `{"prototype":${json(r.value)}}` : json(r.value)
      const rest = valid.slice(at)
      return `${valid.slice(0, at)}"${r.key}":${value}${rest.startsWith('}') ? '' : ','}${rest}`
    }
    case 'utf8': {
      const bytes = Buffer.from(valid)
      const at = r.at % (bytes.length + 1)
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(r.bytes), bytes.subarray(at)])
    }
    case 'truncate': return valid.slice(0, r.at % Math.max(1, valid.length))
    case 'deep': {
      const close = r.open === '[' ? ']' : '}'
      return `{"message_elem_array":${r.open.repeat(r.depth)}1${close.repeat(r.depth)}}`
    }
    case 'huge': return JSON.stringify(text('x'.repeat(r.size)))
    case 'bytes': return Buffer.from(r.bytes)
  }
}

t.test('when bodies are raw text with __proto__ keys, invalid UTF-8, deep nesting or odd content types, then every answer is < 500 with {code, desc} and a refusal writes nothing', async t => {
  await fuzz(t, 'raw bodies', fc.tuple(endpoint, conversation, raw, fc.option(contentType, { nil: undefined, freq: 8 })),
    ([e, c, r, type], fx) => ({
      method: 'POST',
      url: e.url(c),
      payload: rawBody(r, JSON.stringify(e.body(fx))),
      headers: type === undefined ? {} as Record<string, string> : { 'content-type': type },
    }), runs(500))
})

/** A string for a path segment or query value: unicode, reserved characters, broken escapes. */
const segment = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).map(s => encodeURIComponent(s)),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map(s => `c2c_${encodeURIComponent(s)}`),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map(s => `group_${encodeURIComponent(s)}`),
  fc.constantFrom('c2c_bob', 'group_g1', 'c2c_', 'group_', 'c2c', '_bob', 'c2c_%00', '%', '%ZZ', '%C3%28', '%ED%A0%80', 'c2c_bob%2Fx',
    'c2c_' + 'a'.repeat(33), 'group_' + 'g'.repeat(49), 'c2c_alice', 'c2c_administrator', 'c2c_%20', '..', '.', 'c2c_b%C3%B6b', 'group_nope'),
)
const QUERY_KEYS = ['count', 'last_msg_id', 'is_forward', 'time_begin', 'time_period', 'message_type', '__proto__', 'constructor', 'x']
const queryValue = fc.oneof(segment, fc.constantFrom('0', '1', '20', '100', '101', '-1', '1.5', '1e3', 'true', 'false', 'yes', '', '0x10', '9007199254740993', '[]', '{}'))
const query = fc.array(fc.tuple(fc.constantFrom(...QUERY_KEYS), queryValue), { maxLength: 5 })
  .map(pairs => pairs.length === 0 ? '' : '?' + pairs.map(([k, v]) => `${k}=${v}`).join('&'))

type Route = { method: Req['method'], path: (conv: string, id: string) => string, body: boolean }
const ROUTES: Route[] = [
  ...ENDPOINTS.filter(e => e.name !== 'batch' && e.name !== 'groups').map(e => ({ method: 'POST' as const, path: (c: string) => e.url(c), body: true })),
  { method: 'GET', path: c => `/conversations/${c}/messages`, body: false },
  { method: 'DELETE', path: (c, id) => `/conversations/${c}/messages/${id}`, body: false },
  { method: 'DELETE', path: c => `/conversations/${c}/messages`, body: false },
  { method: 'GET', path: (c, id) => `/conversations/${c}/messages/${id}/elements/0/content`, body: false },
  { method: 'GET', path: (_c, id) => `/groups/${id}`, body: false },
  { method: 'PUT', path: (_c, id) => `/groups/g1/members/${id}`, body: false },
  { method: 'DELETE', path: (_c, id) => `/groups/${id}/admins/bob`, body: false },
]

t.test('when path and query parameters are random, then every answer is < 500 with {code, desc} and a refusal writes nothing', async t => {
  await fuzz(t, 'path and query', fc.tuple(fc.constantFrom(...ROUTES), segment, segment, query),
    ([route, conv, id, qs], fx) => {
      // DELETE …/messages on alice's own thread with bob would (rightly) wipe it: aim it elsewhere.
      const c = route.method === 'DELETE' && conv === 'c2c_bob' ? 'c2c_carol' : conv
      const e = ENDPOINTS.find(e => route.path(c, id) === e.url(c))
      return {
        method: route.method,
        url: route.path(c, id) + qs,
        ...(route.body && { payload: JSON.stringify(e?.body(fx) ?? {}), headers: jsonHeaders }),
      }
    }, runs(500))
})
