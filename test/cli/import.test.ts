import t from 'tap'
import { cli, dump, expected, gateway, IMPORT_ARGS, importHere, proxy, state, texts } from './harness.js'
import { tempDir } from '../helper.js'

t.test('when a 2,500-line dump is imported, then it goes in 3 batches with Idempotency-Keys and every message is listed once, in order', async t => {
  const gw = await gateway(t)
  const p = await proxy(t, gw.url)
  const file = dump(tempDir(t), 2500, { blankAfter: [10, 2400] })
  const run = cli(t, ['import', file, ...IMPORT_ARGS, '--url', p.url], gw.env)
  t.same(await run.exited, { code: 0, signal: null }, run.stderr())
  const batches = p.imports()
  t.equal(batches.length, 3, 'three requests')
  t.same(batches.map(b => b.key?.replace(/^.*:/, '')), ['1-1001', '1002-2001', '2002-2502'], 'keyed by the lines of their first and last message')
  t.ok(batches.every(b => b.key?.startsWith(`timgate-import:${state(file).sha256.slice(0, 32)}:`)), 'and by the file\'s hash')
  t.same(await texts(gw.g), expected(1, 2500))
  t.match(run.stdout(), /imported 2,500 messages, 0 already present, into c2c_user2 in 3 batches/)
  t.match(run.stderr(), /2,500\/2,500 messages \(100%\)/, 'progress lines when stderr is not a terminal')
  t.match(state(file), { lines_done: 2502, complete: true })

  const again = await importHere([file, ...IMPORT_ARGS, '--url', p.url], gw.env)
  t.equal(again.code, 0)
  t.match(again.stdout, /already imported/, 'a finished dump is not sent again')
  t.equal(p.imports().length, 3)
})
