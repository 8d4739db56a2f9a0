import t from 'tap'
import fc from 'fast-check'
import { before, GroupRole, Origin, positionOf, type ConvRef, type HistoryPosition, type Store, type StoredMessage } from '../../db/store.js'
import { c2c, draft, group, openStore } from './open.js'

const tombstone = (revoker: string) => ({ status: 6, revoker, content: { message_elem_array: [] }, elemMask: 0 })
const tips = (conv: ConvRef, by: string, serverTime: number) => draft(conv, by, 'tips', { origin: Origin.Server, serverTime })

t.test('when a C2C thread has messages, then each user\'s row counts the others\' sent messages after its read point', async t => {
  const s = await openStore(t)
  const ab = c2c('a', 'b')
  const sent = await s.messages.insert([draft(ab, 'a', '1'), draft(ab, 'a', '2'), draft(ab, 'b', '3'), draft(ab, 'a', '4')])
  t.match(await s.conversations.get('b', ab), { convKey: ab.key, peer: 'a', isGroup: false, pinned: false, unread: 3 })
  t.match(await s.conversations.get('a', ab), { peer: 'b', unread: 1, activeTime: sent[3]!.serverTime })
  t.equal((await s.conversations.get('b', ab)).last?.id, sent[3]!.id)
  await s.messages.markRead(ab.key, 'b', positionOf(sent[2]!), true)
  const b = await s.conversations.get('b', ab)
  t.equal(b.unread, 1, 'read up to its own message: the one after is unread')
  t.same(b.read, positionOf(sent[2]!))
  t.equal(b.peerRead, undefined, 'a has read nothing')
  t.equal(await s.conversations.totalUnread('b'), 1)
  const none = await s.conversations.get('x', c2c('x', 'y'))
  t.match(none, { peer: 'y', unread: 0, activeTime: 0, last: undefined, pinned: false }, 'no row: nothing')
  t.same(await s.conversations.list('x', undefined, 10), { entries: [], more: false }, 'and not listed')
})

t.test('when the list is read in pages, then pinned come first, then the most recently active, and each page starts after the last', async t => {
  const s = await openStore(t)
  for (const [i, peer] of ['p', 'q', 'r', 's'].entries()) await s.messages.insert([draft(c2c('me', peer), peer, 'x', { serverTime: 2_000_000_000 + i })])
  const g = group('lg')
  await s.groups.create(g.key, { groupId: 'lg', name: 'lg', owner: 'o', members: [{ userId: 'o', role: GroupRole.Owner }, { userId: 'me', role: GroupRole.Member }] },
    tips(g, 'o', 2_000_000_002))
  t.equal(await s.conversations.setPinned('me', c2c('me', 'q'), true), true)
  const keys = (es: Array<{ convKey: string }>) => es.map(e => e.convKey)
  const { entries: all, more: beyondAll } = await s.conversations.list('me', undefined, 10)
  t.same(keys(all), [c2c('me', 'q').key, c2c('me', 's').key, c2c('me', 'r').key, g.key, c2c('me', 'p').key])
  t.equal(beyondAll, false, 'nothing after the last')
  const first = await s.conversations.list('me', undefined, 2)
  t.equal(first.more, true, 'more after a full page')
  const rest = await s.conversations.list('me', first.entries.at(-1), 3)
  t.same(keys([...first.entries, ...rest.entries]), keys(all))
  t.equal(rest.more, false, 'a page that ends with the last: no more')
  t.equal(await s.conversations.setPinned('me', g, true), true)
  t.same(keys((await s.conversations.list('me', undefined, 2)).entries), [g.key, c2c('me', 'q').key], 'pinned, the most recently active first')
  t.equal(await s.conversations.setPinned('nobody', g, true), false, 'not a member')
  t.equal(await s.conversations.remove('nobody', g), false)
  t.equal(await s.conversations.remove('me', g), true)
  t.notOk(keys((await s.conversations.list('me', undefined, 10)).entries).includes(g.key))
  t.equal((await s.conversations.get('me', g)).pinned, false, 'deleting unpins')
})

/*
 * The property: after any sequence of the operations that touch unread counts, every
 * count (one conversation, the list, the total) is what a brute-force recount over the
 * history gives, and the list holds exactly the conversations it should, in order.
 */

interface Op { kind: string, conv: number, user: number, msg: number, ahead: number, flag: boolean, tick: number }

const KINDS = ['send', 'send', 'send', 'send', 'batch', 'import', 'save', 'revoke', 'delete', 'clear', 'read', 'read', 'readNewest',
  'join', 'kick', 'tips', 'remove', 'pin', 'markAll', 'burst'] as const

const opArb = fc.record({
  kind: fc.constantFrom(...KINDS),
  conv: fc.nat(20),
  user: fc.nat(20),
  msg: fc.nat(1000),
  ahead: fc.integer({ min: -40, max: 4 }),
  flag: fc.boolean(),
  tick: fc.nat(1),
})

/** What the history and the users' actions are, kept by the test itself: the brute force counts over this. */
class Model {
  readonly messages: StoredMessage[] = []
  readonly revoked = new Set<number>()
  readonly deleted = new Map<string, Set<number>>()
  readonly cleared = new Map<string, number>()
  readonly read = new Map<string, HistoryPosition>()
  readonly joinedAtSeq = new Map<string, number>()
  readonly joinTime = new Map<string, number>()
  /** The newest message id when a member joined: its own saved messages before that left with its row. */
  readonly joinedAtId = new Map<string, number>()
  readonly members = new Set<string>()
  readonly rows = new Set<string>()
  readonly listed = new Set<string>()
  readonly pinned = new Set<string>()

  constructor (readonly users: string[], readonly convs: ConvRef[], readonly groupConv: ConvRef) {}

  static id = (user: string, conv: ConvRef) => `${user}\n${conv.key}`

  isGroup = (conv: ConvRef) => conv.users === undefined
  /** Whether the user has the conversation at all (a row of the list). */
  has = (user: string, conv: ConvRef) => this.isGroup(conv) ? this.members.has(user) : this.rows.has(Model.id(user, conv))
  participants = (conv: ConvRef): string[] => conv.users !== undefined ? [...new Set(conv.users)] : this.users.filter(u => this.members.has(u))
  inConv = (conv: ConvRef) => this.messages.filter(m => m.convKey === conv.key)
  visible = (user: string, conv: ConvRef) => this.inConv(conv).filter(m => m.owner === null || m.owner === user)
  isDeleted = (user: string, m: StoredMessage) =>
    (this.deleted.get(Model.id(user, { key: m.convKey }))?.has(m.id) ?? false) || m.id <= (this.cleared.get(Model.id(user, { key: m.convKey })) ?? 0)

  stored (ms: StoredMessage[]): void {
    for (const m of ms) {
      if (this.messages.some(x => x.id === m.id)) continue
      this.messages.push(m)
      const conv = this.convs.find(c => c.key === m.convKey)!
      const touched = m.owner !== null ? [m.owner] : this.isGroup(conv) ? this.participants(conv) : this.participants(conv)
      for (const u of touched) {
        if (!this.isGroup(conv)) this.rows.add(Model.id(u, conv))
        this.listed.add(Model.id(u, conv))
      }
    }
  }

  unread (user: string, conv: ConvRef): number {
    if (!this.has(user, conv)) return 0
    const point = this.read.get(Model.id(user, conv))
    const joined = this.isGroup(conv) ? this.joinedAtSeq.get(Model.id(user, conv)) ?? 0 : 0
    return this.inConv(conv).filter(m => m.owner === null && m.origin === Origin.Sent && m.sender !== user && !this.revoked.has(m.id) &&
      !this.isDeleted(user, m) && m.seq > joined && (point === undefined || before(point, positionOf(m)))).length
  }

  activeTime (user: string, conv: ConvRef): number {
    const since = this.isGroup(conv) ? this.joinedAtId.get(Model.id(user, conv)) ?? 0 : 0
    const times = this.visible(user, conv).filter(m => m.owner === null || m.id > since).map(m => m.serverTime)
    if (this.isGroup(conv)) times.push(this.joinTime.get(Model.id(user, conv)) ?? 0)
    return Math.max(0, ...times)
  }

  newest (user: string, conv: ConvRef): StoredMessage | undefined {
    return this.visible(user, conv).reduce<StoredMessage | undefined>((n, m) => n === undefined || before(positionOf(n), positionOf(m)) ? m : n, undefined)
  }

  moveRead (user: string, conv: ConvRef, to: HistoryPosition): void {
    const was = this.read.get(Model.id(user, conv))
    if (was === undefined || before(was, to)) this.read.set(Model.id(user, conv), to)
  }
}

async function run (s: Store, ops: Op[], tag: string): Promise<void> {
  const users = ['a', 'b', 'c', 'd'].map(u => `${tag}${u}`)
  const [a, b, c, d] = users as [string, string, string, string]
  const g = group(`${tag}g`)
  const convs = [c2c(a, b), c2c(a, c), c2c(b, c), c2c(c, d), g]
  const model = new Model(users, convs, g)
  let clock = 1_900_000_000
  const created = await s.groups.create(g.key, { groupId: g.key, name: 'g', owner: a, members: [{ userId: a, role: GroupRole.Owner }, { userId: b, role: GroupRole.Member }] },
    tips(g, a, clock))
  if (!created) throw new Error('group exists')
  /** The group's shared history as stored (its tips messages come from the store). */
  const syncGroup = async () => {
    let after: HistoryPosition | undefined
    for (;;) {
      const pageOf = await s.messages.history({ convKey: g.key, viewer: a, forward: true, limit: 100, ...(after !== undefined && { after }) })
      model.stored(pageOf.filter(m => m.owner === null))
      if (pageOf.length < 100) return
      after = positionOf(pageOf.at(-1)!)
    }
  }
  await syncGroup()
  for (const u of [a, b]) {
    model.members.add(u)
    model.joinedAtSeq.set(Model.id(u, g), 0)
    model.joinTime.set(Model.id(u, g), clock)
    model.listed.add(Model.id(u, g))
  }

  for (const op of ops) {
    clock += op.tick
    const conv = convs[op.conv % convs.length]!
    const people = model.participants(conv)
    const user = users[op.user % users.length]!
    const member = people.length === 0 ? undefined : people[op.user % people.length]
    // Pins and deletes: a C2C conversation's own users (as the service addresses it), a group's anyone.
    const actor = conv.users === undefined ? user : member!
    const pick = (ms: StoredMessage[]) => ms.length === 0 ? undefined : ms[op.msg % ms.length]
    switch (op.kind) {
      case 'send':
        if (member !== undefined) model.stored(await s.messages.insert([draft(conv, member, 'x', { serverTime: clock })]))
        break
      case 'burst': {
        // Sends at once, each a write of its own (on PostgreSQL they share one statement),
        // some with a time before the conversation's last one.
        const sends = [0, 1, 2, 3, 4, 5, 6].flatMap(i => {
          const cv = convs[(op.conv + i) % convs.length]!
          const ps = model.participants(cv)
          return ps.length === 0 ? [] : [draft(cv, ps[(op.user + i) % ps.length]!, `burst${i}`, { serverTime: clock - (i % 3 === 0 ? op.msg % 5 : 0) })]
        })
        for (const written of await Promise.all(sends.map(d => s.messages.insert([d])))) model.stored(written)
        break
      }
      case 'batch':
        model.stored(await s.messages.insert([draft(c2c(a, b), a, 'b1', { serverTime: clock }), draft(c2c(a, c), a, 'b2', { serverTime: clock }),
          ...(op.flag ? [draft(g, a, 'b3', { serverTime: clock })] : [])].filter(m => m.conv.users !== undefined || model.members.has(a))))
        break
      case 'import':
        if (member !== undefined) {
          model.stored(await s.messages.insert([draft(conv, member, 'imp', { serverTime: clock + op.ahead, origin: Origin.Imported, status: 5, rand: op.msg })]))
        }
        break
      case 'save':
        if (member !== undefined) {
          model.stored(await s.messages.insert([draft(conv, member, 'saved', { serverTime: clock + op.ahead, owner: member, origin: Origin.Saved, status: 5 })]))
        }
        break
      case 'revoke': {
        const m = pick(model.inConv(conv).filter(x => x.owner === null))
        if (m !== undefined) {
          await s.messages.revoke(conv.key, m.id, tombstone(m.sender))
          model.revoked.add(m.id)
        }
        break
      }
      case 'delete': {
        if (member === undefined) break
        const m = pick(model.visible(member, conv))
        if (m !== undefined) {
          await s.messages.deleteFor(conv.key, member, m.id)
          const id = Model.id(member, conv)
          model.deleted.set(id, (model.deleted.get(id) ?? new Set()).add(m.id))
        }
        break
      }
      case 'clear':
        if (member !== undefined) {
          await s.messages.clearFor(conv.key, member)
          model.cleared.set(Model.id(member, conv), Math.max(0, ...model.inConv(conv).map(m => m.id)))
        }
        break
      case 'read':
      case 'readNewest': {
        if (member === undefined) break
        const m = op.kind === 'read' ? pick(model.visible(member, conv)) : model.newest(member, conv)
        if (m !== undefined) {
          await s.messages.markRead(conv.key, member, positionOf(m), !model.isGroup(conv))
          model.moveRead(member, conv, positionOf(m))
        }
        break
      }
      case 'join':
      case 'tips': {
        const role = op.kind === 'tips' ? (op.flag ? GroupRole.Admin : GroupRole.Member) : GroupRole.Member
        if (op.kind === 'join' && model.members.has(user)) break
        if (op.kind === 'tips' && (!model.members.has(user) || user === a)) break
        const seqNow = Math.max(0, ...model.inConv(g).map(m => m.seq))
        const t0 = clock
        if (await s.groups.change(g.key, { userId: user, role }, tips(g, a, t0))) {
          if (op.kind === 'join') {
            model.members.add(user)
            model.joinedAtSeq.set(Model.id(user, g), seqNow)
            model.joinTime.set(Model.id(user, g), t0)
            model.listed.add(Model.id(user, g))
            model.pinned.delete(Model.id(user, g))
            model.joinedAtId.set(Model.id(user, g), Math.max(0, ...model.messages.map(m => m.id)))
          }
          await syncGroup()
        }
        break
      }
      case 'kick':
        if (!model.members.has(user) || user === a) break
        if (await s.groups.change(g.key, { userId: user, role: null }, tips(g, a, clock))) {
          await syncGroup()
          model.members.delete(user)
          model.listed.delete(Model.id(user, g))
        }
        break
      case 'remove':
        if (await s.conversations.remove(actor, conv)) {
          model.cleared.set(Model.id(actor, conv), Math.max(0, ...model.inConv(conv).map(m => m.id)))
          model.listed.delete(Model.id(actor, conv))
          model.pinned.delete(Model.id(actor, conv))
        } else if (!model.isGroup(conv) || model.members.has(actor)) throw new Error(`remove refused for ${actor} ${conv.key}`)
        break
      case 'pin': {
        const ok = await s.conversations.setPinned(actor, conv, op.flag)
        if (ok !== (!model.isGroup(conv) || model.members.has(actor))) throw new Error(`pin of ${actor} ${conv.key} answered ${ok}`)
        if (ok && op.flag) model.pinned.add(Model.id(actor, conv))
        if (ok && !op.flag) model.pinned.delete(Model.id(actor, conv))
        if (ok && op.flag && !model.isGroup(conv)) model.rows.add(Model.id(actor, conv))
        break
      }
      case 'markAll':
        await s.conversations.markAllRead(user)
        for (const cv of convs) {
          if (!model.has(user, cv)) continue
          const m = model.newest(user, cv)
          if (m !== undefined) model.moveRead(user, cv, positionOf(m))
        }
        break
    }
  }

  // Every count against the brute force; the list against what should be listed.
  for (const u of users) {
    let sum = 0
    for (const cv of convs) {
      const e = await s.conversations.get(u, cv)
      const want = model.unread(u, cv)
      sum += want
      if (e.unread !== want) throw new Error(`${u} ${cv.key}: unread ${e.unread}, the history says ${want}`)
      if (model.has(u, cv)) {
        if (e.activeTime !== model.activeTime(u, cv)) throw new Error(`${u} ${cv.key}: active ${e.activeTime}, want ${model.activeTime(u, cv)}`)
        const newest = model.visible(u, cv).filter(m => !model.isDeleted(u, m))
          .reduce<StoredMessage | undefined>((n, m) => n === undefined || before(positionOf(n), positionOf(m)) ? m : n, undefined)
        if (e.last?.id !== newest?.id) throw new Error(`${u} ${cv.key}: last ${e.last?.id}, want ${newest?.id}`)
        if (e.pinned !== model.pinned.has(Model.id(u, cv))) throw new Error(`${u} ${cv.key}: pinned ${e.pinned}`)
      }
    }
    const total = await s.conversations.totalUnread(u)
    if (total !== sum) throw new Error(`${u}: total ${total}, the history says ${sum}`)
    const walked = []
    let after
    for (let i = 0; i < 10; i++) {
      const { entries: pageOf, more } = await s.conversations.list(u, after, 2)
      walked.push(...pageOf)
      after = pageOf.at(-1)
      if (!more) break
    }
    const want = convs.filter(cv => model.has(u, cv) && model.listed.has(Model.id(u, cv))).map(cv => cv.key).sort()
    const got = walked.map(e => e.convKey)
    if (JSON.stringify([...got].sort()) !== JSON.stringify(want)) throw new Error(`${u}: listed ${got.join(',')}, want ${want.join(',')}`)
    for (let i = 1; i < walked.length; i++) {
      const [x, y] = [walked[i - 1]!, walked[i]!]
      const ordered = x.pinned !== y.pinned ? x.pinned : x.activeTime !== y.activeTime ? x.activeTime > y.activeTime : x.convKey > y.convKey
      if (!ordered) throw new Error(`${u}: ${x.convKey} before ${y.convKey} is out of list order`)
    }
    for (const e of walked) {
      const cv = convs.find(x => x.key === e.convKey)!
      if (e.unread !== model.unread(u, cv)) throw new Error(`${u} ${e.convKey}: listed unread ${e.unread}, want ${model.unread(u, cv)}`)
    }
  }
}

t.test('when any sequence of sends, batches, imports, saves, revokes, deletions, reads, joins, kicks, tips, pins and deletes runs, then every count is the brute-force recount', async t => {
  const s = await openStore(t)
  let n = 0
  await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: s.kind === 'postgres' ? 30 : 45 }), async ops => {
    await run(s, ops, `r${++n}`)
  }), { numRuns: s.kind === 'postgres' ? 30 : 150, seed: Number(process.env.TIMGATE_PROPERTY_SEED ?? 18) })
  t.pass(`${n} runs`)
})
