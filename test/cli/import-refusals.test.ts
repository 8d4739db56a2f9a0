import t from 'tap'
import { cli, dump, expected, gateway, IMPORT_ARGS, importHere, proxy, state, texts } from './harness.js'
import { tempDir } from '../helper.js'

t.test('when a line is not JSON, then the run stops naming it and sends nothing', async t => {
  const gw = await gateway(t)
  const p = await proxy(t, gw.url)
  const file = dump(tempDir(t), 2500, { replace: { 1503: '{"message_elem_array": [' } })
  const run = cli(t, ['import', file, ...IMPORT_ARGS, '--url', p.url], gw.env)
  t.same(await run.exited, { code: 1, signal: null })
  t.match(run.stderr(), /dump\.ndjson: line 1503 is not valid JSON \(.*\); nothing was sent/)
  t.equal(p.imports().length, 0, 'no batch is sent')
  t.same(await texts(gw.g), [])

  const array = dump(tempDir(t), 10, { replace: { 4: '[1, 2]' } })
  const notObject = await importHere([array, ...IMPORT_ARGS, '--url', p.url], gw.env)
  t.equal(notObject.code, 1)
  t.match(notObject.stderr, /line 4 is not a JSON object/)
  t.equal(p.imports().length, 0)
})

t.test('when the gateway refuses a message, then the run stops naming its file line; a changed file is not resumed without --restart', async t => {
  const gw = await gateway(t)
  const dir = tempDir(t)
  // Blank lines in both batches: the gateway's [index] is not the line number.
  const blanks = { blankAfter: [5, 1200] }
  const file = dump(dir, 2500, { ...blanks, replace: { 1503: JSON.stringify({ message_sender: 'user1', message_server_time: 1_700_001_502, message_elem_array: [{ elem_type: 0 }] }) } })
  const run = cli(t, ['import', file, ...IMPORT_ARGS, '--url', gw.url], gw.env)
  t.same(await run.exited, { code: 1, signal: null })
  t.match(run.stderr(), /refused lines 1002-2002 \(400 6017\): line 1503: \[500\]\.message_elem_array\[0\]\.text_elem_content is required/)
  t.match(run.stderr(), /lines 1-1001 are imported/)
  t.same(await texts(gw.g), expected(1, 1000), 'the batch before it is stored, nothing of its own')
  t.equal(state(file).lines_done, 1001)

  dump(dir, 2500, blanks) // fixed: another file now
  const changed = await importHere([file, ...IMPORT_ARGS, '--url', gw.url], gw.env)
  t.equal(changed.code, 1)
  t.match(changed.stderr, /dump\.ndjson has changed since the import recorded in .*\(1,001 of 2,502 lines done\): run with --restart/)
  const restarted = await importHere([file, ...IMPORT_ARGS, '--url', gw.url, '--restart'], gw.env)
  t.equal(restarted.code, 0, restarted.stderr)
  t.match(restarted.stdout, /imported 1,500 messages, 1,000 already present/, 're-imported messages are found again')
  t.same(await texts(gw.g), expected(1, 2500))
})
