import t from 'tap'
import { GroupRole } from '../../db/store.js'
import { draft, group, openStore } from './open.js'

const tips = (key: string, text: string) => draft({ key }, 'o', text, { origin: 3 })

t.test('when a group is created, then its members come back in join order, and its key is taken', async t => {
  const s = await openStore(t)
  const g = group('g1')
  const founding = { groupId: 'g1', name: '名前\u0000', owner: 'o', members: [{ userId: 'o', role: GroupRole.Owner }, { userId: 'z', role: GroupRole.Member }, { userId: 'a', role: GroupRole.Member }] }
  t.equal(await s.groups.create(g.key, founding, tips(g.key, 'created')), true)
  t.same(await s.groups.get(g.key), founding)
  t.equal(await s.groups.create(g.key, { ...founding, name: 'other' }, tips(g.key, 'again')), false, 'taken')
  t.equal((await s.groups.get(g.key))!.name, founding.name, 'unchanged')
  t.same((await s.messages.history({ convKey: g.key, viewer: 'o', forward: true, limit: 10 })).map(m => m.seq), [1], 'one tips message')
  t.equal(await s.groups.get(group('nope').key), undefined)
})

t.test('when membership changes, then each applies once with its tips, and a no-op writes nothing', async t => {
  const s = await openStore(t)
  const g = group('g2')
  await s.groups.create(g.key, { groupId: 'g2', name: 'g', owner: 'o', members: [{ userId: 'o', role: GroupRole.Owner }] }, undefined)
  const results = await Promise.all([0, 1, 2].map(i => s.groups.change(g.key, { userId: 'm', role: GroupRole.Member }, tips(g.key, `join ${i}`))))
  t.same(results.filter(Boolean).length, 1, 'racing identical changes apply once')
  t.equal(await s.groups.change(g.key, { userId: 'm', role: GroupRole.Admin }, tips(g.key, 'admin')), true)
  t.equal(await s.groups.change(g.key, { userId: 'x', role: null }, tips(g.key, 'not in')), false)
  t.same((await s.groups.get(g.key))!.members, [{ userId: 'o', role: GroupRole.Owner }, { userId: 'm', role: GroupRole.Admin }])
  t.equal(await s.groups.change(g.key, { userId: 'm', role: null }, tips(g.key, 'kick')), true)
  t.same((await s.groups.get(g.key))!.members.map(m => m.userId), ['o'])
  const history = await s.messages.history({ convKey: g.key, viewer: 'o', forward: true, limit: 10 })
  t.same(history.map(m => m.seq), [1, 2, 3], 'a tips message per applied change')
})

t.test('when the roles of some users are asked, then only the members among them come back, as they are now; no group, undefined', async t => {
  const s = await openStore(t)
  const g = group('g3')
  await s.groups.create(g.key, { groupId: 'g3', name: 'g', owner: 'o', members: [{ userId: 'o', role: GroupRole.Owner }, { userId: 'm', role: GroupRole.Member }] }, undefined)
  t.same([...(await s.groups.roles(g.key, ['m', 'o', 'x', 'm']))!].sort(), [['m', GroupRole.Member], ['o', GroupRole.Owner]])
  t.same(await s.groups.roles(g.key, ['x']), new Map(), 'a group none of them is in')
  t.same(await s.groups.roles(g.key, []), new Map())
  await s.groups.change(g.key, { userId: 'm', role: GroupRole.Admin }, tips(g.key, 'admin'))
  await s.groups.change(g.key, { userId: 'o', role: null }, tips(g.key, 'quit'))
  t.same([...(await s.groups.roles(g.key, ['m', 'o']))!], [['m', GroupRole.Admin]], 'after the changes')
  t.equal(await s.groups.roles(group('nope').key, ['o']), undefined)
})
