import t from 'tap'
import { build, testConfig, text, type TestApp } from '../helper.js'
import { stream } from '../fixtures/sse.js'

const listen = async (g: TestApp) => `${await g.app.listen({ port: 0, host: '127.0.0.1' })}/events`

t.test('when two replicas share one PostgreSQL, then an event committed through one reaches streams on the other, and a stream resumes on either', {
  skip: process.env.TIMGATE_TEST_PG === undefined || process.env.TIMGATE_TEST_PG === '' ? 'PostgreSQL only: SQLite serves one process' : false,
}, async t => {
  const config = testConfig(t)
  const a = await build(t, {}, { config })
  const b = await build(t, {}, { config })
  const [urlA, urlB] = [await listen(a), await listen(b)]
  const onB = stream(t, urlB, b.as('bob'))
  const appOnA = stream(t, urlA, a.as(a.config.adminIdentifier))
  await Promise.all([onB.opened, appOnA.opened])
  // Sends through both replicas at once: one order of event ids for all.
  await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).call('alice', 'POST', '/conversations/c2c_bob/messages', text(`m${i}`))))
  const got = await onB.wait(20)
  const ids = got.map(e => Number(e.id))
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'in increasing ids')
  t.same(new Set(got.map(e => (e.data.event_data.message_elem_array as Array<{ text_elem_content: string }>)[0]!.text_elem_content)).size, 20, 'each once')
  t.same((await appOnA.wait(20)).map(e => e.id), got.map(e => e.id), 'the app stream on the other replica: the same ids, in the same order')

  onB.close()
  for (let i = 0; i < 5; i++) await a.call('alice', 'POST', '/conversations/c2c_bob/messages', text(`later ${i}`))
  const resumed = stream(t, urlA, a.as('bob'), got.at(-1)!.id)
  const missed = await resumed.wait(5)
  t.same(missed.map(e => (e.data.event_data.message_elem_array as Array<{ text_elem_content: string }>)[0]!.text_elem_content), [0, 1, 2, 3, 4].map(i => `later ${i}`), 'resumed on the other replica: every event it missed')
})
