import t from 'tap'
import { cli, dump, expected, gateway, IMPORT_ARGS, importHere, proxy, stalledImport, texts, until } from './harness.js'
import { tempDir } from '../helper.js'

// The gateway admits one import per identity at a time (TIM_HEAVY_CONCURRENCY in all) and
// refuses the others with 429 on their headers: the CLI waits and goes on.

t.test('when the gateway is busy with an import of the same identity, then the CLI waits out the 429s and finishes', async t => {
  const gw = await gateway(t, { TIM_HEAVY_CONCURRENCY: '1', TIM_BODY_TIMEOUT_MS: '120000' })
  const held = await stalledImport(t, gw, 'user1')
  const file = dump(tempDir(t), 50, { sender: 'user1' })
  const run = cli(t, ['import', file, '--conversation', 'c2c_user2', '--usersig', gw.g.sig('user1'), '--url', gw.url, '--batch', '20'],
    { TIM_DATA_DIR: tempDir(t) })
  t.ok(await until(() => /lines 1-20: gateway busy \(429 9506: /.test(run.stderr())), `refused while the slot is held: ${run.stderr()}`)
  t.equal(run.proc.exitCode, null, 'and still running')
  held.socket.destroy()
  t.same(await run.exited, { code: 0, signal: null }, run.stderr())
  t.match(run.stdout(), /imported 50 messages, 0 already present, into c2c_user2 in 3 batches/)
  t.same(await texts(gw.g), expected(1, 50))
})

t.test('when messages are big, then a batch is cut before 16 MiB, also while the gateway refuses it mid-upload', async t => {
  const gw = await gateway(t, { TIM_BODY_TIMEOUT_MS: '120000' })
  const p = await proxy(t, gw.url)
  // 1000 lines of about 20 KB: 20 MB, more than one request can carry.
  const file = dump(tempDir(t), 1000, { pad: 20_000 })
  const held = await stalledImport(t, gw, gw.g.config.adminIdentifier)
  const run = cli(t, ['import', file, ...IMPORT_ARGS, '--url', gw.url], gw.env)
  t.ok(await until(() => /gateway busy \(429 9506: /.test(run.stderr())), `refused (the 429 read by asking again): ${run.stderr()}`)
  held.socket.destroy()
  t.same(await run.exited, { code: 0, signal: null }, run.stderr())
  t.match(run.stdout(), /imported 1,000 messages, 0 already present, into c2c_user2 in 2 batches/)
  t.same(await texts(gw.g), expected(1, 1000))

  // Again through the recording proxy, from user2's side (other keys): each body under 16 MiB.
  const other = await importHere([file, '--conversation', 'c2c_user1', '--as', 'user2', '--url', p.url, '--restart'], gw.env)
  t.equal(other.code, 0, other.stderr)
  t.match(other.stdout, /imported 0 messages, 1,000 already present/)
  const sizes = p.imports().map(b => b.bytes)
  t.equal(sizes.length, 2)
  t.ok(sizes.every(n => n < 16 * 1024 * 1024), `bodies of ${sizes.join(', ')} bytes`)
})
