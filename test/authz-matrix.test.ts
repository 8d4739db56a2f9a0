import { deflateSync, inflateSync } from 'node:zlib'
import t, { type Test } from 'tap'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { signUserSig } from '../src/auth/usersig.js'
import { build, text, type TestApp } from './helper.js'

/*
 * The authorization matrix (CONTRACT §3, §4, §6, §7 and the README's decisions): every
 * endpoint × every kind of caller, with the exact status (and TIM code) each one gets.
 * Every cell runs on a fresh fixture of its own (users and a group suffixed with the cell
 * number) inside one gateway per caller role. A refused answer is exactly {code, desc},
 * and the observable state (both ends of the C2C thread, every member's view of the group,
 * the group itself and the upload) is the same before and after it.
 */

type Msg = Record<string, unknown> & {
  message_msg_id: string
  message_seq: number
  message_rand: number
  message_server_time: number
}
interface Upload { id: string, url: string }

/** One cell's fixture: a C2C thread alice↔bob, a group (owner olive, admin adam, members mia and max), uploads. */
interface Fx {
  alice: string
  bob: string
  carol: string
  olive: string
  adam: string
  mia: string
  max: string
  nora: string
  pat: string
  quinn: string
  admin: string
  group: string
  /** alice's upload, sent to bob in `fc`. */
  upA: Upload
  /** mia's upload, sent to the group in `fg`. */
  upM: Upload
  /** alice's file message to bob. */
  fc: Msg
  /** mia's file message in the group. */
  fg: Msg
  /** Strings that only the entitled may ever see. */
  secrets: string[]
}

const ROLES = [
  'C2C participant',
  'C2C non-participant',
  'group member',
  'group admin',
  'group owner',
  'non-member',
  'app admin',
  'app admin on behalf of a non-member',
  'non-admin with X-TIM-On-Behalf-Of',
  'forged UserSig',
  'expired UserSig',
] as const
type Role = typeof ROLES[number]

interface Expect {
  status: number
  /** The TIM code of a refusal. */
  code?: number
  /** The exact JSON body of a 2xx answer. */
  json?: unknown
  /** The fixture's state must not change (always checked for refusals). */
  unchanged?: boolean
  /** The answer must not contain any of the fixture's secrets (always checked for refusals). */
  noLeak?: boolean
}
type E = Expect | number | [number, number]

interface Req { method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string> }

interface Row {
  name: string
  req: (fx: Fx) => Req
  /** The user who would be allowed: the one a forged, expired or non-admin On-Behalf-Of request pretends to be. */
  privileged: (fx: Fx) => string
  expect: Record<Exclude<Role, 'non-admin with X-TIM-On-Behalf-Of' | 'forged UserSig' | 'expired UserSig'>, E>
}

const enc = encodeURIComponent
const norm = (e: E): Expect => typeof e === 'number' ? { status: e } : Array.isArray(e) ? { status: e[0], code: e[1] } : e

const NOT_FOUND: E = [404, 6021]
const DENIED: E = [403, 10007]
/** A 2xx that must touch nothing of the fixture and show none of it. */
const quiet = (status: number, json?: unknown): Expect => ({ status, unchanged: true, noLeak: true, ...(json !== undefined && { json }) })

/** A C2C row: the same request from every caller's side (`c2c_<alice>`); every group role is a C2C outsider. */
function c2cRow (name: string, req: (fx: Fx) => Req, e: { participant: E, outsider: E, admin: E, adminObo: E }): Row {
  return {
    name: `${name} (C2C)`,
    req,
    privileged: fx => fx.bob,
    expect: {
      'C2C participant': e.participant,
      'C2C non-participant': e.outsider,
      'group member': e.outsider,
      'group admin': e.outsider,
      'group owner': e.outsider,
      'non-member': e.outsider,
      'app admin': e.admin,
      'app admin on behalf of a non-member': e.adminObo,
    },
  }
}

/** A group row: the C2C users and the non-member are group outsiders. */
function groupRow (name: string, req: (fx: Fx) => Req, e: { member: E, groupAdmin: E, owner: E, outsider: E, admin: E, adminObo: E }): Row {
  return {
    name: `${name} (group)`,
    req,
    privileged: fx => fx.olive,
    expect: {
      'C2C participant': e.outsider,
      'C2C non-participant': e.outsider,
      'group member': e.member,
      'group admin': e.groupAdmin,
      'group owner': e.owner,
      'non-member': e.outsider,
      'app admin': e.admin,
      'app admin on behalf of a non-member': e.adminObo,
    },
  }
}

const c2c = (fx: Fx) => `/conversations/c2c_${enc(fx.alice)}`
const grp = (fx: Fx) => `/conversations/group_${enc(fx.group)}`
const locator = (m: Msg) => ({ message_locator_seq: m.message_seq, message_locator_rand: m.message_rand, message_locator_time: m.message_server_time })
const past = () => Math.floor(Date.now() / 1000) - 3600
const fileElem = (u: Upload, size: number) => ({ elem_type: 4, file_elem_file_name: 'f.txt', file_elem_file_size: size, file_elem_file_id: u.id })

/** The message endpoints, once on the C2C thread (target: alice's file message) and once on the group (target: mia's). */
function messageRows (): Row[] {
  const rows: Row[] = []
  const both = (name: string, req: (conv: string, m: Msg, up: Upload, sender: string) => Req,
    c: { participant: E, outsider: E, admin: E, adminObo: E },
    g: { member: E, groupAdmin: E, owner: E, outsider: E, admin: E, adminObo: E }) => {
    rows.push(c2cRow(name, fx => req(c2c(fx), fx.fc, fx.upA, fx.alice), c))
    rows.push(groupRow(name, fx => req(grp(fx), fx.fg, fx.upM, fx.mia), g))
  }
  const member = (e: E) => ({ member: e, groupAdmin: e, owner: e, outsider: DENIED, admin: e, adminObo: DENIED })

  both('send', conv => ({ method: 'POST', url: `${conv}/messages`, body: text('hello') }),
    { participant: 200, outsider: quiet(200), admin: quiet(200), adminObo: quiet(200) }, member(200))
  both('query (POST)', conv => ({ method: 'POST', url: `${conv}/messages/query`, body: { msg_getmsglist_param_count: 100 } }),
    { participant: 200, outsider: quiet(200, []), admin: quiet(200, []), adminObo: quiet(200, []) }, member(200))
  both('list (GET)', conv => ({ method: 'GET', url: `${conv}/messages?count=100` }),
    { participant: 200, outsider: quiet(200, []), admin: quiet(200, []), adminObo: quiet(200, []) }, member(200))
  both('find', (conv, m) => ({ method: 'POST', url: `${conv}/messages/find`, body: [locator(m)] }),
    { participant: 200, outsider: quiet(200, []), admin: quiet(200, []), adminObo: quiet(200, []) }, member(200))
  both('read', (conv, m) => ({ method: 'POST', url: `${conv}/read`, body: { message_msg_id: m.message_msg_id } }),
    { participant: 204, outsider: NOT_FOUND, admin: NOT_FOUND, adminObo: NOT_FOUND }, member(204))
  both('revoke', (conv, m) => ({ method: 'POST', url: `${conv}/revoke`, body: { message_msg_id: m.message_msg_id } }),
    { participant: DENIED, outsider: NOT_FOUND, admin: NOT_FOUND, adminObo: NOT_FOUND },
    { member: DENIED, groupAdmin: 200, owner: 200, outsider: DENIED, admin: 200, adminObo: DENIED })
  both('import', (conv, _m, _u, sender) => ({ method: 'POST', url: `${conv}/messages/import`, body: [text('imported', { message_sender: sender, message_server_time: past() })] }),
    { participant: DENIED, outsider: DENIED, admin: quiet(200), adminObo: quiet(200) },
    { member: DENIED, groupAdmin: DENIED, owner: DENIED, outsider: DENIED, admin: 200, adminObo: DENIED })
  both('save', conv => ({ method: 'POST', url: `${conv}/messages/save`, body: text('mine') }),
    { participant: 200, outsider: quiet(200), admin: quiet(200), adminObo: quiet(200) }, member(200))
  both('delete (SDK form)', (conv, m) => ({ method: 'POST', url: `${conv}/messages/delete`, body: { msg_delete_param_msg: { message_msg_id: m.message_msg_id } } }),
    { participant: 204, outsider: NOT_FOUND, admin: NOT_FOUND, adminObo: NOT_FOUND }, member(204))
  both('DELETE one', (conv, m) => ({ method: 'DELETE', url: `${conv}/messages/${enc(m.message_msg_id)}` }),
    { participant: 204, outsider: NOT_FOUND, admin: NOT_FOUND, adminObo: NOT_FOUND }, member(204))
  both('DELETE all', conv => ({ method: 'DELETE', url: `${conv}/messages` }),
    { participant: 204, outsider: quiet(204), admin: quiet(204), adminObo: quiet(204) }, member(204))
  both('GET element content', (conv, m) => ({ method: 'GET', url: `${conv}/messages/${enc(m.message_msg_id)}/elements/0/content` }),
    { participant: 200, outsider: NOT_FOUND, admin: NOT_FOUND, adminObo: NOT_FOUND }, member(200))
  both('POST /downloads', (_conv, _m, up) => ({ method: 'POST', url: '/downloads', body: { msg_download_elem_param_type: 1, msg_download_elem_param_id: up.id } }),
    { participant: 200, outsider: NOT_FOUND, admin: NOT_FOUND, adminObo: NOT_FOUND },
    { member: 200, groupAdmin: 200, owner: 200, outsider: NOT_FOUND, admin: 200, adminObo: NOT_FOUND })
  return rows
}

/** Rows that are neither a C2C nor a group conversation; every role spelled out. */
function otherRows (): Row[] {
  const all = (e: E, admin: E = e, adminObo: E = admin): Row['expect'] => ({
    'C2C participant': e,
    'C2C non-participant': e,
    'group member': e,
    'group admin': e,
    'group owner': e,
    'non-member': e,
    'app admin': admin,
    'app admin on behalf of a non-member': adminObo,
  })
  const management = (member: E, groupAdmin: E, owner: E, managed: E): Row['expect'] => ({
    'C2C participant': DENIED,
    'C2C non-participant': DENIED,
    'group member': member,
    'group admin': groupAdmin,
    'group owner': owner,
    'non-member': DENIED,
    'app admin': managed,
    'app admin on behalf of a non-member': managed,
  })
  const groupUrl = (fx: Fx) => `/groups/${enc(fx.group)}`
  return [
    {
      name: 'batch (own sender)',
      req: fx => ({ method: 'POST', url: '/messages/batch', body: { msg_batch_send_param_identifier_array: [fx.pat, fx.quinn], msg_batch_send_param_msg: text('batch') } }),
      privileged: fx => fx.alice,
      expect: all(quiet(200)),
    },
    {
      name: 'batch (message_sender alice)',
      req: fx => ({ method: 'POST', url: '/messages/batch', body: { msg_batch_send_param_identifier_array: [fx.pat, fx.quinn], msg_batch_send_param_msg: text('batch', { message_sender: fx.alice }) } }),
      privileged: fx => fx.alice,
      expect: all(DENIED, quiet(200)),
    },
    {
      name: 'POST /media',
      req: () => ({ method: 'POST', url: '/media', body: `fresh bytes ${Math.random()}`, headers: { 'content-type': 'text/plain' } }),
      privileged: fx => fx.alice,
      expect: all(quiet(201)),
    },
    {
      name: 'GET /media/{id} (alice\'s upload)',
      req: fx => ({ method: 'GET', url: `/media/${enc(fx.upA.id)}` }),
      privileged: fx => fx.alice,
      expect: all(NOT_FOUND, { status: 200, unchanged: true }),
    },
    {
      name: 'POST /groups',
      req: fx => ({ method: 'POST', url: '/groups', body: { group_id: `${fx.group}-new`, group_member_array: [fx.pat] } }),
      privileged: fx => fx.alice,
      expect: all(quiet(201)),
    },
    {
      name: 'GET /groups/{id}',
      req: fx => ({ method: 'GET', url: groupUrl(fx) }),
      privileged: fx => fx.olive,
      expect: management(200, 200, 200, 200),
    },
    {
      name: 'PUT members (add pat)',
      req: fx => ({ method: 'PUT', url: `${groupUrl(fx)}/members/${enc(fx.pat)}` }),
      privileged: fx => fx.olive,
      expect: management(DENIED, 200, 200, 200),
    },
    {
      name: 'DELETE members (kick mia)',
      req: fx => ({ method: 'DELETE', url: `${groupUrl(fx)}/members/${enc(fx.mia)}` }),
      privileged: fx => fx.olive,
      expect: management(DENIED, 200, 200, 200),
    },
    {
      name: 'PUT admins (promote max)',
      req: fx => ({ method: 'PUT', url: `${groupUrl(fx)}/admins/${enc(fx.max)}` }),
      privileged: fx => fx.olive,
      expect: management(DENIED, DENIED, 200, 200),
    },
    {
      name: 'DELETE admins (demote adam)',
      req: fx => ({ method: 'DELETE', url: `${groupUrl(fx)}/admins/${enc(fx.adam)}` }),
      privileged: fx => fx.olive,
      expect: management(DENIED, DENIED, 200, 200),
    },
  ]
}

const ROWS: Row[] = [...messageRows(), ...otherRows()]

/** A UserSig of `from` whose identifier was rewritten to `to` without re-signing it. */
function tampered (g: TestApp, from: string, to: string): string {
  const sig = g.sig(from)
  const raw = Buffer.from(sig.replace(/_/g, '=').replace(/-/g, '/').replace(/\*/g, '+'), 'base64')
  const doc = JSON.parse(inflateSync(raw).toString('utf8')) as Record<string, unknown>
  doc['TLS.identifier'] = to
  return deflateSync(Buffer.from(JSON.stringify(doc))).toString('base64').replace(/\+/g, '*').replace(/\//g, '-').replace(/=/g, '_')
}

/** Who sends the request for `role`, and with which headers. */
function caller (g: TestApp, fx: Fx, row: Row, role: Role): { user: string, headers: Record<string, string> } {
  const users: Record<string, string> = {
    'C2C participant': fx.bob,
    'C2C non-participant': fx.carol,
    'group member': fx.max,
    'group admin': fx.adam,
    'group owner': fx.olive,
    'non-member': fx.nora,
    'app admin': fx.admin,
  }
  switch (role) {
    case 'app admin on behalf of a non-member':
      return { user: fx.admin, headers: { 'x-tim-on-behalf-of': fx.nora } }
    case 'non-admin with X-TIM-On-Behalf-Of':
      return { user: fx.nora, headers: { 'x-tim-on-behalf-of': row.privileged(fx) } }
    case 'forged UserSig':
      return { user: fx.nora, headers: { authorization: `Bearer ${tampered(g, fx.nora, row.privileged(fx))}` } }
    case 'expired UserSig': {
      const sig = signUserSig(g.config.sdkAppId, g.config.secretKey, row.privileged(fx), 60, Math.floor(Date.now() / 1000) - 3600)
      return { user: row.privileged(fx), headers: { authorization: `Bearer ${sig}` } }
    }
    default:
      return { user: users[role]!, headers: {} }
  }
}

function expectedOf (row: Row, role: Role): Expect {
  switch (role) {
    case 'non-admin with X-TIM-On-Behalf-Of': return { status: 403, code: 10007 }
    case 'forged UserSig': return { status: 401, code: 70009 }
    case 'expired UserSig': return { status: 401, code: 70001 }
    default: return norm(row.expect[role])
  }
}

async function ok (g: TestApp, user: string, method: InjectOptions['method'], url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
  const res = await g.call(user, method, url, body, headers)
  if (res.statusCode >= 300) throw new Error(`fixture: ${user} ${method} ${url}: ${res.statusCode} ${res.body}`)
  return res
}

let cellNo = 0

/** A fresh fixture with users and a group of its own. */
async function fixture (g: TestApp): Promise<Fx> {
  const n = ++cellNo
  const u = (name: string) => `${name}${n}`
  const fx = {
    alice: u('alice'), bob: u('bob'), carol: u('carol'), olive: u('olive'), adam: u('adam'), mia: u('mia'),
    max: u('max'), nora: u('nora'), pat: u('pat'), quinn: u('quinn'), admin: g.config.adminIdentifier, group: u('team'),
  }
  const bytesA = `alice's private file ${n}`
  const bytesM = `mia's group file ${n}`
  const upA: Upload = (await ok(g, fx.alice, 'POST', '/media', bytesA, { 'content-type': 'text/plain' })).json()
  await ok(g, fx.alice, 'POST', `/conversations/c2c_${fx.bob}/messages`, text(`secret-c2c-${n}`))
  const fc: Msg = (await ok(g, fx.alice, 'POST', `/conversations/c2c_${fx.bob}/messages`, { message_elem_array: [fileElem(upA, bytesA.length)] })).json()
  await ok(g, fx.bob, 'POST', `/conversations/c2c_${fx.alice}/messages`, text(`secret-reply-${n}`))
  await ok(g, fx.olive, 'POST', '/groups', { group_id: fx.group, group_member_array: [fx.adam, fx.mia, fx.max] })
  await ok(g, fx.olive, 'PUT', `/groups/${fx.group}/admins/${fx.adam}`)
  const upM: Upload = (await ok(g, fx.mia, 'POST', '/media', bytesM, { 'content-type': 'text/plain' })).json()
  await ok(g, fx.mia, 'POST', `/conversations/group_${fx.group}/messages`, text(`secret-group-${n}`))
  const fg: Msg = (await ok(g, fx.mia, 'POST', `/conversations/group_${fx.group}/messages`, { message_elem_array: [fileElem(upM, bytesM.length)] })).json()
  const secrets = [`secret-c2c-${n}`, `secret-reply-${n}`, `secret-group-${n}`, fc.message_msg_id, fg.message_msg_id, upA.id, upM.id, bytesA, bytesM]
  return { ...fx, upA, upM, fc, fg, secrets }
}

/** Everything a refused request must leave as it was, as the entitled users see it. */
async function snapshot (g: TestApp, fx: Fx): Promise<unknown> {
  const views: Array<[string, string]> = [
    [fx.alice, `/conversations/c2c_${enc(fx.bob)}/messages?count=100&is_forward=true`],
    [fx.bob, `/conversations/c2c_${enc(fx.alice)}/messages?count=100&is_forward=true`],
    ...[fx.olive, fx.adam, fx.mia, fx.max].map((u): [string, string] => [u, `${grp(fx)}/messages?count=100&is_forward=true`]),
    [fx.olive, `/groups/${enc(fx.group)}`],
    [fx.alice, `/media/${enc(fx.upA.id)}`],
    [fx.mia, `/media/${enc(fx.upM.id)}`],
  ]
  return Promise.all(views.map(async ([user, url]) => {
    const res = await g.call(user, 'GET', url)
    return { user, url, status: res.statusCode, body: res.body }
  }))
}

async function cell (t: Test, g: TestApp, row: Row, role: Role) {
  const fx = await fixture(g)
  const want = expectedOf(row, role)
  const refused = want.status >= 400
  const what = `${row.name} as ${role}`
  const before = refused || want.unchanged === true ? await snapshot(g, fx) : undefined
  const req = row.req(fx)
  const who = caller(g, fx, row, role)
  const res = await g.call(who.user, req.method, req.url, req.body, { ...req.headers, ...who.headers })
  t.equal(res.statusCode, want.status, `${what}: status ${want.status}`)
  if (refused) {
    let body: unknown
    try { body = res.json() } catch { body = res.body }
    t.same(body !== null && typeof body === 'object' ? Object.keys(body).sort() : body, ['code', 'desc'], `${what}: the body is exactly {code, desc}`)
    const b = body as { code?: unknown, desc?: unknown }
    t.equal(b.code, want.code, `${what}: code ${want.code}`)
    t.type(b.desc, 'string', `${what}: desc is text`)
  }
  if (want.json !== undefined) t.same(res.json(), want.json, `${what}: answers ${JSON.stringify(want.json)}`)
  if (refused || want.noLeak === true) {
    // What the caller sent (an id in the path, say) may be echoed in a desc; nothing else may appear.
    const sent = `${req.url} ${JSON.stringify(req.body ?? null)}`
    const leaked = fx.secrets.filter(s => !sent.includes(s) && res.body.includes(s))
    t.same(leaked, [], `${what}: nothing of the fixture leaks`)
  }
  if (before !== undefined) t.same(await snapshot(g, fx), before, `${what}: nothing changes`)
}

t.test(`the matrix has ${ROWS.length} endpoints × ${ROLES.length} roles`, async t => {
  t.equal(new Set(ROWS.map(r => r.name)).size, ROWS.length, 'row names are unique')
  t.end()
})

/**
 * Cells at once per gateway: cells share nothing (each has its own users and group), so
 * running a few together only overlaps their waits on the store. Every assertion names its cell.
 */
const CELLS_AT_ONCE = 4

for (const role of ROLES) {
  t.test(`when the caller is the ${role}, then every endpoint answers with the contract's status and a refusal leaks and changes nothing`, async t => {
    const g = await build(t, { TIM_RATE_LIMIT: '0' })
    const queue = [...ROWS]
    const lane = async () => {
      for (let row = queue.shift(); row !== undefined; row = queue.shift()) await cell(t, g, row, role)
    }
    await Promise.all(Array.from({ length: CELLS_AT_ONCE }, lane))
  })
}
