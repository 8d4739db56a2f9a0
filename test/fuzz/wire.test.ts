import t from 'tap'
import fc from 'fast-check'
import { text } from '../helper.js'
import { anyValue, conversation, endpoint, ENDPOINTS, fuzz, json, jsonHeaders, runs, type Json, type Req } from '../fixtures/fuzz.js'

// Fuzzing of what arrives on the wire (test/fixtures/fuzz.ts): raw bodies and content types, paths and query strings.
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
