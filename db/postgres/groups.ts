import type pg from 'pg'
import type { GroupRole, GroupStore } from '../store.js'
import { bytes, insertWith } from './messages.js'
import { run, statement, transaction } from './pool.js'
import type { PgEventAppender } from './events.js'

/**
 * Groups on a pool, keyed by their conversation's key, so that a membership change and its
 * group-tips message stay on one shard. The name is free text, which may hold U+0000
 * (PostgreSQL text cannot): it is kept as its UTF-8 bytes.
 */
const sql = {
  insertGroup: statement('insert_group', `INSERT INTO groups (conv_key, group_id, group_name, owner, created_at)
    VALUES ($1, $2, $3, $4, extract(epoch FROM clock_timestamp())::bigint) ON CONFLICT DO NOTHING`),
  /** joined_at is a per-group counter (join order survives any clock): the founders are 1, 2, 3 … */
  insertMembers: statement('insert_members', `INSERT INTO group_members (conv_key, user_id, role, joined_at)
    SELECT $1::text, u.user_id, u.role, u.i FROM unnest($2::text[], $3::integer[]) WITH ORDINALITY AS u(user_id, role, i)`),
  /** Membership changes of a group take turns on its row: each sees the one before. */
  lockGroup: statement('lock_group', 'SELECT 1 FROM groups WHERE conv_key = $1 FOR UPDATE'),
  roleOf: statement('role_of', 'SELECT role FROM group_members WHERE conv_key = $1 AND user_id = $2'),
  setMember: statement('set_member', `INSERT INTO group_members (conv_key, user_id, role, joined_at)
    VALUES ($1, $2, $3, (SELECT coalesce(max(joined_at), 0) + 1 FROM group_members WHERE conv_key = $1))
    ON CONFLICT (conv_key, user_id) DO UPDATE SET role = excluded.role`),
  removeMember: statement('remove_member', 'DELETE FROM group_members WHERE conv_key = $1 AND user_id = $2'),
  /**
   * Members' rows of the conversation list, after the tips message took the group's lock:
   * what the group held when they joined is not unread.
   */
  joinRows: statement('join_rows', `INSERT INTO user_conversations (user_id, conv_key, is_group, active_time, floor)
    SELECT u, $1::text, true, $3::bigint, coalesce((SELECT tally FROM conversations WHERE conv_key = $1::text), 0) FROM unnest($2::text[]) AS u
    ORDER BY u ON CONFLICT DO NOTHING`),
  leaveRow: statement('leave_row', 'DELETE FROM user_conversations WHERE user_id = $2 AND conv_key = $1'),
  /** No row: no group; a row with a null user: a group none of the users named is a member of. */
  roles: statement('group_roles', `SELECT m.user_id, m.role FROM groups g
    LEFT JOIN group_members m ON m.conv_key = g.conv_key AND m.user_id = ANY($2::text[]) WHERE g.conv_key = $1`),
  getGroup: statement('get_group', `SELECT g.group_id, g.group_name, g.owner, m.user_id, m.role
    FROM groups g LEFT JOIN group_members m ON m.conv_key = g.conv_key
    WHERE g.conv_key = $1 ORDER BY m.joined_at, m.user_id`),
} as const

export function pgGroups (pool: pg.Pool, events: PgEventAppender, now: () => number): GroupStore {
  return {
    async create (key, group, tips) {
      return transaction(pool, async client => {
        const { rowCount } = await run(client, sql.insertGroup, [key, group.groupId, bytes(group.name), group.owner])
        if (rowCount === 0) return false
        const members = new Map<string, GroupRole>()
        for (const m of group.members) members.set(m.userId, m.role)
        await run(client, sql.insertMembers, [key, [...members.keys()], [...members.values()]])
        const at = now()
        for (const [userId, role] of members) await events.membership(client, key, userId, role, at)
        if (tips !== undefined) await insertWith(client, [tips], events)
        await run(client, sql.joinRows, [key, [...members.keys()], at])
        return true
      }).finally(events.committed)
    },
    async get (key) {
      const { rows } = await run<{ group_id: string, group_name: Buffer, owner: string, user_id: string | null, role: number | null }>(
        pool, sql.getGroup, [key])
      const g = rows[0]
      if (g === undefined) return undefined
      return {
        groupId: g.group_id,
        name: g.group_name.toString('utf8'),
        owner: g.owner,
        members: rows.filter(r => r.user_id !== null).map(r => ({ userId: r.user_id!, role: r.role as GroupRole })),
      }
    },
    async roles (key, userIds) {
      const { rows } = await run<{ user_id: string | null, role: number | null }>(pool, sql.roles, [key, [...new Set(userIds)]])
      if (rows.length === 0) return undefined
      return new Map(rows.filter(r => r.user_id !== null).map(r => [r.user_id!, r.role as GroupRole]))
    },
    async change (key, change, tips) {
      return transaction(pool, async client => {
        await run(client, sql.lockGroup, [key])
        // Checked again under the group's lock: racing identical changes apply (and tip) once.
        const { rows: [current] } = await run<{ role: number }>(client, sql.roleOf, [key, change.userId])
        if ((current?.role ?? null) === change.role) return false
        // A joining member hears its invite; a leaving one its quit or kick: the tips go
        // after a join and before a leave in the log.
        if (change.role === null) {
          await insertWith(client, [tips], events)
          await run(client, sql.removeMember, [key, change.userId])
          await run(client, sql.leaveRow, [key, change.userId])
        } else {
          await run(client, sql.setMember, [key, change.userId, change.role])
        }
        await events.membership(client, key, change.userId, change.role, tips.serverTime)
        if (change.role !== null) {
          await insertWith(client, [tips], events)
          await run(client, sql.joinRows, [key, [change.userId], tips.serverTime])
        }
        return true
      }).finally(events.committed)
    },
  }
}
