import { randomBytes } from 'node:crypto'
import { Errors } from '../errors.js'
import { GroupRole, Origin, type Group, type GroupChange, type GroupStore, type NewMessage } from '../../db/store.js'
import { groupKey, isGroupId, isUserId } from '../messages/ids.js'
import { roleOf, type Identity, type MessageService } from '../messages/service.js'
import { ElemType } from '../messages/schemas.js'

/** TIMGroupTipType of the membership changes. */
export const TipType = { Invite: 1, Quit: 2, Kick: 3, SetAdmin: 4, CancelAdmin: 5 } as const
type TipType = typeof TipType[keyof typeof TipType]

/** The group JSON of CONTRACT §4. */
export interface GroupView {
  group_id: string
  group_name: string
  group_owner: string
  group_admin_array: string[]
  group_member_array: string[]
}

export interface NewGroup { group_id?: string, group_name?: string, group_member_array?: string[] }

export const groupView = (g: Group): GroupView => ({
  group_id: g.groupId,
  group_name: g.name,
  group_owner: g.owner,
  group_admin_array: g.members.filter(m => m.role === GroupRole.Admin).map(m => m.userId),
  group_member_array: g.members.map(m => m.userId),
})

/** Minimal group management: enough to make membership real, each change a group-tips message. */
export class GroupService {
  readonly #store: GroupStore
  readonly #messages: MessageService

  constructor (store: GroupStore, messages: MessageService) {
    this.#store = store
    this.#messages = messages
  }

  async create (who: Identity, body: NewGroup): Promise<GroupView> {
    const groupId = body.group_id ?? `tg-${randomBytes(8).toString('hex')}`
    if (!isGroupId(groupId)) throw Errors.invalidGroupId(groupId)
    const invited = [...new Set(body.group_member_array ?? [])].filter(u => u !== who.actAs)
    const bad = invited.find(u => !isUserId(u))
    if (bad !== undefined) throw Errors.invalidIdentifier(`"${bad}" in group_member_array`)
    const group: Group = {
      groupId,
      name: body.group_name ?? groupId,
      owner: who.actAs,
      members: [{ userId: who.actAs, role: GroupRole.Owner }, ...invited.map(userId => ({ userId, role: GroupRole.Member }))],
    }
    const tips = invited.length === 0 ? undefined : this.#tips(group, who.actAs, TipType.Invite, invited)
    if (!await this.#store.create(groupKey(groupId), group, tips)) throw Errors.groupIdInUse(groupId)
    return groupView(group)
  }

  async get (who: Identity, groupId: string): Promise<GroupView> {
    return groupView(await this.#memberView(who, groupId))
  }

  /** PUT members/{userID}: the owner, a group admin or the app admin adds a member. */
  async addMember (who: Identity, groupId: string, userId: string): Promise<GroupView> {
    if (!isUserId(userId)) throw Errors.invalidIdentifier(`"${userId}"`)
    const group = await this.#memberView(who, groupId)
    this.#requireModerator(who, group)
    if (roleOf(group, userId) !== undefined) return groupView(group)
    return this.#apply(who, group, { userId, role: GroupRole.Member }, TipType.Invite)
  }

  /** DELETE members/{userID}: a member quits, or the owner/admin kicks (admins only plain members). */
  async removeMember (who: Identity, groupId: string, userId: string): Promise<GroupView> {
    if (!isUserId(userId)) throw Errors.invalidIdentifier(`"${userId}"`)
    const group = await this.#memberView(who, groupId)
    const target = roleOf(group, userId)
    if (target === undefined) return groupView(group)
    if (target === GroupRole.Owner) throw Errors.permissionDenied('the group owner cannot leave or be removed')
    if (userId === who.actAs) return this.#apply(who, group, { userId, role: null }, TipType.Quit)
    const mine = roleOf(group, who.actAs)
    const allowed = who.isAdmin || mine === GroupRole.Owner || (mine === GroupRole.Admin && target === GroupRole.Member)
    if (!allowed) throw Errors.permissionDenied(`"${who.actAs}" may not remove "${userId}" from the group`)
    return this.#apply(who, group, { userId, role: null }, TipType.Kick)
  }

  /** PUT/DELETE admins/{userID}: the owner (or the app admin) sets or cancels a group admin. */
  async setAdmin (who: Identity, groupId: string, userId: string, admin: boolean): Promise<GroupView> {
    if (!isUserId(userId)) throw Errors.invalidIdentifier(`"${userId}"`)
    const group = await this.#memberView(who, groupId)
    if (!who.isAdmin && roleOf(group, who.actAs) !== GroupRole.Owner) throw Errors.permissionDenied('only the group owner may set or cancel group admins')
    const target = roleOf(group, userId)
    if (target === undefined) throw Errors.permissionDenied(`"${userId}" is not a member of the group`)
    if (target === GroupRole.Owner || (target === GroupRole.Admin) === admin) return groupView(group)
    return this.#apply(who, group, { userId, role: admin ? GroupRole.Admin : GroupRole.Member }, admin ? TipType.SetAdmin : TipType.CancelAdmin)
  }

  async #memberView (who: Identity, groupId: string): Promise<Group> {
    if (!isGroupId(groupId)) throw Errors.invalidGroupId(groupId)
    const group = await this.#store.get(groupKey(groupId))
    if (group === undefined) throw Errors.groupNotFound(groupId)
    if (!who.isAdmin && roleOf(group, who.actAs) === undefined) throw Errors.permissionDenied(`"${who.actAs}" is not a member of group "${groupId}"`)
    return group
  }

  #requireModerator (who: Identity, group: Group): void {
    const role = roleOf(group, who.actAs)
    if (!who.isAdmin && role !== GroupRole.Owner && role !== GroupRole.Admin) {
      throw Errors.permissionDenied('only the group owner or a group admin may add members')
    }
  }

  async #apply (who: Identity, group: Group, change: GroupChange, tip: TipType): Promise<GroupView> {
    const members = change.role === null
      ? group.members.filter(m => m.userId !== change.userId)
      : roleOf(group, change.userId) === undefined
        ? [...group.members, { userId: change.userId, role: change.role }]
        : group.members.map(m => m.userId === change.userId ? { ...m, role: change.role! } : m)
    const after = { ...group, members }
    const applied = await this.#store.change(groupKey(group.groupId), change, this.#tips(after, who.actAs, tip, [change.userId]))
    // A racing identical change got there first: answer the group as it now is.
    return applied ? groupView(after) : groupView(await this.#memberView(who, group.groupId))
  }

  /** The server-made group-tips message (elem_type 5) of a membership change. */
  #tips (group: Group, opUser: string, tip: TipType, users: string[]): NewMessage {
    const now = this.#messages.now()
    return {
      conv: { key: groupKey(group.groupId) },
      sender: opUser,
      owner: null,
      serverTime: now,
      clientTime: now,
      rand: randomBytes(4).readUInt32BE(0),
      status: 2,
      origin: Origin.Server,
      elemMask: 1 << ElemType.GroupTips,
      content: {
        message_elem_array: [{
          elem_type: ElemType.GroupTips,
          group_tips_elem_tip_type: tip,
          group_tips_elem_op_user: opUser,
          group_tips_elem_group_id: group.groupId,
          group_tips_elem_group_name: group.name,
          group_tips_elem_user_array: users,
          group_tips_elem_time: now,
          group_tips_elem_member_num: group.members.length,
        }],
      },
      refs: [],
      event: true,
    }
  }
}
