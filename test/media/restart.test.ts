import t from 'tap'
import Database from 'better-sqlite3'
import { existsSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from '../helper.js'
import { fileElem, sendElems, upload } from '../fixtures/media.js'

t.test('when the gateway starts, then half-received uploads idle for an hour are cleared and fresh ones are left alone', async t => {
  const first = await build(t)
  await first.app.close()
  const tmp = join(first.config.dataDir, 'media', 'tmp')
  writeFileSync(join(tmp, 'stale'), 'crashed upload')
  const old = new Date(Date.now() - 2 * 3600 * 1000)
  utimesSync(join(tmp, 'stale'), old, old)
  writeFileSync(join(tmp, 'fresh'), 'another process is receiving this')
  await build(t, { TIM_DATA_DIR: first.config.dataDir })
  t.notOk(existsSync(join(tmp, 'stale')))
  t.ok(existsSync(join(tmp, 'fresh')))
})

// SQLite's own migration: on the PostgreSQL half of the suite there is no timgate.db to rewind.
const onPostgres = (process.env.TIMGATE_TEST_PG ?? '') !== ''

t.test('when messages were stored before migration 003, then POST /downloads finds their references', { skip: onPostgres && 'SQLite only' }, async t => {
  const first = await build(t)
  const { body: u } = await upload(first, 'alice', 'old bytes', 'text/plain')
  await sendElems(first, 'alice', 'bob', [fileElem({ id: u.id })])
  await first.app.close()
  // Back to the database as 002 left it: no reference table, 003 not applied.
  const db = new Database(join(first.config.dataDir, 'timgate.db'))
  db.exec('DROP TABLE message_refs; DELETE FROM schema_migrations WHERE version = 3')
  db.close()
  const g = await build(t, { TIM_DATA_DIR: first.config.dataDir })
  const res = await g.app.inject({ method: 'POST', url: '/downloads', headers: g.as('bob'), payload: { msg_download_elem_param_id: u.id } })
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'old bytes')
})
