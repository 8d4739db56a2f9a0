import t from 'tap'
import { cli, dump, expected, gateway, IMPORT_ARGS, proxy, state, texts } from './harness.js'
import { tempDir } from '../helper.js'

t.test('when the CLI is killed after the gateway stored a batch it never heard of, then the next run replays that batch and each message is stored once', async t => {
  const gw = await gateway(t)
  const file = dump(tempDir(t), 2500)
  // The second batch reaches the gateway and is stored; its answer never comes back.
  const first = await proxy(t, gw.url, (s) => s.url.endsWith('/import') && s.key?.endsWith(':1001-2000') === true)
  const killed = cli(t, ['import', file, ...IMPORT_ARGS, '--url', first.url], gw.env)
  await first.held
  killed.proc.kill('SIGKILL')
  t.equal((await killed.exited).signal, 'SIGKILL')
  t.equal(state(file).lines_done, 1000, 'the first batch is recorded as done')
  t.equal((await texts(gw.g)).length, 2000, 'the second is stored')
  first.release()

  // Ctrl-C while a batch is in flight: exit 130, nothing recorded beyond what was acknowledged.
  const second = await proxy(t, gw.url, (s) => s.url.endsWith('/import'))
  const interrupted = cli(t, ['import', file, ...IMPORT_ARGS, '--url', second.url], gw.env)
  await second.held
  interrupted.proc.kill('SIGINT')
  t.same(await interrupted.exited, { code: 130, signal: null })
  t.match(interrupted.stderr(), /interrupted .*run the same command again to resume/)
  t.equal(state(file).lines_done, 1000)
  second.release()

  const third = await proxy(t, gw.url)
  const resumed = cli(t, ['import', file, ...IMPORT_ARGS, '--url', third.url], gw.env)
  t.same(await resumed.exited, { code: 0, signal: null }, resumed.stderr())
  t.same(third.imports().map(b => b.key), [first.imports()[1]!.key, first.imports()[1]!.key!.replace(/1001-2000$/, '2001-2500')],
    'it resumes at the first unacknowledged batch, with the same key')
  t.match(resumed.stdout(), /imported 500 messages, 1,000 already present, into c2c_user2 in 2 batches \(lines 1,001-2,500, resumed after line 1,000\)/)
  t.same(await texts(gw.g), expected(1, 2500), 'each message exactly once, in order')
})

