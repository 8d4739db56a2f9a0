import type { Database } from 'better-sqlite3'
import type { GroupRole, GroupStore, NewMessage, StoredMessage } from '../store.js'
import type { Write } from './group-commit.js'
import type { EventAppender } from './events.js'

/** Groups on one SQLite connection; tips messages go in through `insertOne`, in the same write. */
export function sqliteGroups (db: Database, write: Write, insertOne: (m: NewMessage) => StoredMessage, events: EventAppender, now: () => number): GroupStore {
  const insertGroup = db.prepare('INSERT INTO groups (conv_key, group_id, group_name, owner, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
  const getGroup = db.prepare<[string], { group_id: string, group_name: string, owner: string }>('SELECT group_id, group_name, owner FROM groups WHERE conv_key = ?')
  const members = db.prepare<[string], { user_id: string, role: number }>('SELECT user_id, role FROM group_members WHERE conv_key = ? ORDER BY joined_at, user_id')
  // joined_at is a per-group counter: join order survives any clock.
  const setMember = db.prepare<{ key: string, userId: string, role: number }>(
    `INSERT INTO group_members (conv_key, user_id, role, joined_at)
     VALUES (@key, @userId, @role, (SELECT coalesce(max(joined_at), 0) + 1 FROM group_members WHERE conv_key = @key))
     ON CONFLICT (conv_key, user_id) DO UPDATE SET role = excluded.role`)
  const roleOf = db.prepare<[string, string], { role: number }>('SELECT role FROM group_members WHERE conv_key = ? AND user_id = ?')
  const removeMember = db.prepare('DELETE FROM group_members WHERE conv_key = ? AND user_id = ?')
  // A member's row of the conversation list: what the group held when it joined is not unread.
  const joinRow = db.prepare<[string, string, number, string]>(
    `INSERT INTO user_conversations (user_id, conv_key, is_group, active_time, floor)
     VALUES (?, ?, 1, ?, coalesce((SELECT tally FROM conversations WHERE conv_key = ?), 0)) ON CONFLICT DO NOTHING`)
  const leaveRow = db.prepare('DELETE FROM user_conversations WHERE user_id = ? AND conv_key = ?')

  return {
    async create (key, group, tips) {
      return write(() => {
        const at = now()
        if (insertGroup.run(key, group.groupId, group.name, group.owner, at).changes === 0) return false
        for (const m of group.members) {
          setMember.run({ key, userId: m.userId, role: m.role })
          joinRow.run(m.userId, key, at, key)
          events.membership(key, m.userId, m.role, at)
        }
        if (tips !== undefined) insertOne(tips)
        return true
      })
    },
    async get (key) {
      const g = getGroup.get(key)
      if (g === undefined) return undefined
      return {
        groupId: g.group_id,
        name: g.group_name,
        owner: g.owner,
        members: members.all(key).map(m => ({ userId: m.user_id, role: m.role as GroupRole })),
      }
    },
    async roles (key, userIds) {
      if (getGroup.get(key) === undefined) return undefined
      const roles = new Map<string, GroupRole>()
      for (const userId of userIds) {
        const role = roleOf.get(key, userId)?.role
        if (role !== undefined) roles.set(userId, role as GroupRole)
      }
      return roles
    },
    async change (key, { userId, role }, tips) {
      return write(() => {
        // Checked again inside the transaction: racing identical changes apply (and tip) once.
        if ((roleOf.get(key, userId)?.role ?? null) === role) return false
        // A joining member hears its invite; a leaving one its quit or kick: the tips go
        // after a join and before a leave in the log.
        if (role === null) {
          insertOne(tips)
          removeMember.run(key, userId)
          leaveRow.run(userId, key)
          events.membership(key, userId, null, tips.serverTime)
        } else {
          setMember.run({ key, userId, role })
          joinRow.run(userId, key, tips.serverTime, key)
          events.membership(key, userId, role, tips.serverTime)
          insertOne(tips)
        }
        return true
      })
    },
  }
}
