import type pg from 'pg'
import { QUEUED, type WebhookStore } from '../store.js'
import { latestOutcomes, rowToDelivery, rowToWebhook, type DeliveryRow, type WebhookRow } from '../rows.js'
import { run, statement, transaction, type Queryable } from './pool.js'

const HOOK_COLUMNS = `id, url, types, before_send, secret, created_at, last_success_at, last_error, last_error_at,
  (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = webhooks.id) AS pending`

const sql = {
  insert: statement('webhook_insert', `INSERT INTO webhooks (id, url, types, before_send, secret, created_at, cursor)
    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`),
  list: statement('webhook_list', `SELECT ${HOOK_COLUMNS} FROM webhooks ORDER BY created_at, id`),
  hooks: statement('webhook_hooks', 'SELECT id, url, types, before_send, secret, created_at, 0 AS pending FROM webhooks'),
  get: statement('webhook_get', `SELECT ${HOOK_COLUMNS} FROM webhooks WHERE id = $1`),
  remove: statement('webhook_delete', 'DELETE FROM webhooks WHERE id = $1'),
  minCursor: statement('webhook_min_cursor', 'SELECT min(cursor) AS c FROM webhooks'),
  // The webhooks a page moves, locked: replicas feeding at once feed each event once.
  followers: statement('webhook_followers', 'SELECT id, types, cursor FROM webhooks WHERE cursor IS NOT NULL AND cursor < $1 ORDER BY id FOR UPDATE'),
  // Feeding and settling one (webhook, conversation) queue take turns: its head is always due.
  lockQueues: statement('webhook_lock_queues', `SELECT pg_advisory_xact_lock(k) FROM (
    SELECT DISTINCT hashtextextended(w || chr(10) || c, 0) AS k FROM unnest($1::text[], $2::text[]) AS q(w, c) ORDER BY 1) s`),
  add: statement('webhook_add', `INSERT INTO webhook_deliveries (webhook_id, pos, type, conv_key, message_id, actor, at, due_at)
    SELECT w, p, t, c, m, a, x, ${QUEUED} FROM unnest($1::text[], $2::bigint[], $3::smallint[], $4::text[], $5::bigint[], $6::text[], $7::bigint[]) AS q(w, p, t, c, m, a, x)
    ON CONFLICT DO NOTHING`),
  move: statement('webhook_move', 'UPDATE webhooks SET cursor = $1 WHERE id = ANY($2::text[]) AND cursor < $1'),
  promote: statement('webhook_promote', `UPDATE webhook_deliveries d SET due_at = $3
    FROM (SELECT w, (SELECT min(pos) FROM webhook_deliveries x WHERE x.webhook_id = w AND x.conv_key = c) AS pos
      FROM (SELECT DISTINCT w, c FROM unnest($1::text[], $2::text[]) AS q(w, c)) u) h
    WHERE d.webhook_id = h.w AND d.pos = h.pos AND d.due_at = ${QUEUED}`),
  // A claimed row is due again when its lease ends (its replica died): the scan for due rows
  // then passes over none of the attempts in flight.
  claim: statement('webhook_claim', `WITH claimed AS (
      UPDATE webhook_deliveries d SET leased_until = $3, due_at = $3
      FROM (SELECT webhook_id, pos FROM webhook_deliveries x WHERE x.webhook_id = $1 AND x.due_at <= $2 AND x.leased_until <= $2
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = x.webhook_id AND p.conv_key = x.conv_key AND p.pos < x.pos)
        ORDER BY x.due_at, x.pos LIMIT $4 FOR UPDATE SKIP LOCKED) c
      WHERE d.webhook_id = c.webhook_id AND d.pos = c.pos AND d.leased_until <= $2
      RETURNING d.webhook_id, d.pos, d.type, d.conv_key, d.message_id, d.actor, d.at, d.attempts, d.failing_since)
    SELECT claimed.*, cv.user_a, cv.user_b FROM claimed LEFT JOIN conversations cv ON cv.conv_key = claimed.conv_key ORDER BY claimed.pos`),
  done: statement('webhook_done', 'DELETE FROM webhook_deliveries WHERE (webhook_id, pos) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))'),
  retry: statement('webhook_retry', `UPDATE webhook_deliveries d SET attempts = d.attempts + 1, due_at = q.due, leased_until = 0,
    failing_since = coalesce(d.failing_since, q.since)
    FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS q(w, p, due, since) WHERE d.webhook_id = q.w AND d.pos = q.p`),
  succeeded: statement('webhook_succeeded', 'UPDATE webhooks SET last_success_at = greatest(coalesce(last_success_at, 0), $1) WHERE id = $2'),
  failed: statement('webhook_failed', 'UPDATE webhooks SET last_error = $1, last_error_at = $2 WHERE id = $3'),
  wake: statement('webhook_wake', `UPDATE webhook_deliveries SET due_at = $1 WHERE due_at > $1 AND due_at < ${QUEUED}`),
  backlog: statement('webhook_backlog', 'SELECT count(*)::bigint AS pending, min(at) AS oldest FROM webhook_deliveries'),
} as const

/** Queues as two parallel arrays, for the advisory locks and the promotion. */
const queues = (pairs: Iterable<readonly [string, string]>): [string[], string[]] => {
  const hooks: string[] = []
  const convs: string[] = []
  for (const [w, c] of pairs) {
    hooks.push(w)
    convs.push(c)
  }
  return [hooks, convs]
}

const lockAndPromote = async (db: Queryable, pairs: Array<readonly [string, string]>, now: number, between: () => Promise<void>) => {
  const [hooks, convs] = queues(pairs)
  if (hooks.length > 0) await run(db, sql.lockQueues, [hooks, convs])
  await between()
  if (hooks.length > 0) await run(db, sql.promote, [hooks, convs, now])
}

/** Webhooks and their deliveries on PostgreSQL, shared by every replica. */
export function pgWebhooks (pool: pg.Pool): WebhookStore {
  return {
    async create (hook, cursor) {
      const { rowCount } = await run(pool, sql.insert, [hook.id, hook.url, hook.types, hook.beforeSend, hook.secret, hook.createdAt,
        hook.beforeSend ? null : cursor])
      return rowCount === 1
    },
    async list () {
      return (await run<WebhookRow>(pool, sql.list, [])).rows.map(rowToWebhook)
    },
    async hooks () {
      return (await run<WebhookRow>(pool, sql.hooks, [])).rows.map(rowToWebhook)
    },
    async get (id) {
      const { rows: [row] } = await run<WebhookRow>(pool, sql.get, [id])
      return row === undefined ? undefined : rowToWebhook(row)
    },
    async delete (id) {
      return (await run(pool, sql.remove, [id])).rowCount === 1
    },
    async cursor () {
      const { rows: [row] } = await run<{ c: number | null }>(pool, sql.minCursor, [])
      return row?.c ?? undefined
    },
    async feed (page, now) {
      const last = page.at(-1)
      if (last === undefined) return
      await transaction(pool, async client => {
        const { rows: hooks } = await run<{ id: string, types: number, cursor: number }>(client, sql.followers, [last.pos])
        if (hooks.length === 0) return
        const cols: [string[], number[], number[], string[], Array<number | null>, Array<string | null>, number[]] = [[], [], [], [], [], [], []]
        const pairs = new Map<string, readonly [string, string]>()
        for (const hook of hooks) {
          for (const e of page) {
            if (e.pos <= hook.cursor || (hook.types & (1 << e.type)) === 0) continue
            cols[0].push(hook.id); cols[1].push(e.pos); cols[2].push(e.type); cols[3].push(e.convKey)
            cols[4].push(e.messageId); cols[5].push(e.actor); cols[6].push(e.at)
            pairs.set(`${hook.id}\n${e.convKey}`, [hook.id, e.convKey])
          }
        }
        await lockAndPromote(client, [...pairs.values()].sort(), now, async () => {
          if (cols[0].length > 0) await run(client, sql.add, cols)
          await run(client, sql.move, [last.pos, hooks.map(h => h.id)])
        })
      })
    },
    async claim (webhookId, limit, now, leaseUntil) {
      return (await run<DeliveryRow>(pool, sql.claim, [webhookId, now, leaseUntil, limit])).rows.map(rowToDelivery)
    },
    async settle (outcomes, now) {
      if (outcomes.length === 0) return
      const leaving = outcomes.filter(o => o.result !== 'retry')
      const retrying = outcomes.filter(o => o.result === 'retry')
      const pairs = new Map(leaving.map(o => [`${o.webhookId}\n${o.convKey}`, [o.webhookId, o.convKey] as const]))
      await transaction(pool, async client => {
        await lockAndPromote(client, [...pairs.values()].sort(), now, async () => {
          if (leaving.length > 0) await run(client, sql.done, [leaving.map(o => o.webhookId), leaving.map(o => o.pos)])
          if (retrying.length > 0) {
            await run(client, sql.retry, [retrying.map(o => o.webhookId), retrying.map(o => o.pos),
              retrying.map(o => o.result === 'retry' ? o.dueAt : 0), retrying.map(o => o.result === 'retry' ? o.failingSince : 0)])
          }
        })
      })
      // The webhooks' status apart from the queues' transaction: it never waits on a feed's row locks.
      for (const o of latestOutcomes(outcomes)) {
        if (o.result === 'done') await run(pool, sql.succeeded, [o.at, o.webhookId])
        else await run(pool, sql.failed, [o.error, o.at, o.webhookId])
      }
    },
    async wake (by) {
      // Other replicas may hold leases: those run out by themselves.
      await run(pool, sql.wake, [by])
    },
    async backlog () {
      const { rows: [b] } = await run<{ pending: number, oldest: number | null }>(pool, sql.backlog, [])
      return { pending: b?.pending ?? 0, oldestAt: b?.oldest ?? null }
    },
  }
}
