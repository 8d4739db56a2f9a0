import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { verifyUserSig } from '../../src/auth/usersig.js'
import { parseImportArgs } from '../../scripts/cli/import.js'
import { freePort, tempDir } from '../helper.js'
import { cli, dump, importHere } from './harness.js'

t.test('when the arguments are wrong, then it says what is wrong, prints the usage and exits 2', async t => {
  const file = dump(tempDir(t), 1)
  const cases: Array<[string[], RegExp]> = [
    [[], /which file\?/],
    [[file, 'other.ndjson', '--conversation', 'c2c_user2'], /one file at a time, got 2/],
    [[file], /--conversation is required/],
    [[file, '--conversation', 'user2'], /--conversation must be c2c_<userID> or group_<groupID>, got "user2"/],
    [[file, '--conversation', 'c2c_user2', '--batch', '1001'], /--batch must be a whole number from 1 to 1000, got "1001"/],
    [[file, '--conversation', 'c2c_user2', '--batch', '0'], /--batch must be a whole number from 1 to 1000, got "0"/],
    [[file, '--conversation', 'c2c_user2', '--url', 'ftp://x'], /--url must be an http\(s\) URL, got "ftp:\/\/x"/],
    [[file, '--conversation', 'c2c_user2', '--as', 'a'.repeat(33)], /--as must be a UserID .*33 bytes long/],
    [[file, '--conversation', 'c2c_user2', '--bogus'], /Unknown option '--bogus'/],
  ]
  for (const [args, why] of cases) {
    t.throws(() => parseImportArgs(args, {}), { name: 'UsageError', message: why }, args.join(' '))
  }
  t.match(parseImportArgs([file, '--conversation', 'group_g 1'], { TIMGATE_URL: 'https://gw.example/tim/', TIMGATE_USERSIG: 'sig' }), {
    conversation: 'group_g 1', url: new URL('https://gw.example/tim/'), usersig: 'sig', batch: 1000, restart: false,
  }, 'the URL and the UserSig may come from the environment')
  t.equal(parseImportArgs(['-h'], {}), 'help')

  const help = await importHere(['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^usage: timgate import <file\.ndjson> --conversation/)
  t.match(help.stdout, /exit codes: 0 imported, 1 failed/)

  // As a process: the exit code and the usage.
  const run = cli(t, ['import', file, '--conversation', 'user2'])
  t.same(await run.exited, { code: 2, signal: null })
  t.match(run.stderr(), /^timgate import: --conversation must be c2c_<userID> or group_<groupID>, got "user2"\nusage: timgate import /)
  t.equal(run.stdout(), '')
  const unknown = cli(t, ['export'])
  t.same(await unknown.exited, { code: 2, signal: null })
  t.match(unknown.stderr(), /unknown command "export"\nusage: timgate <command>/)
})

t.test('when timgate usersig is run, then it is npm run usersig under another name', async t => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'secret.json'), JSON.stringify({ sdkappid: 1400000123, secret_key: 'k'.repeat(64) }))
  const ok = cli(t, ['usersig', 'alice', '600'], { TIM_DATA_DIR: dir })
  t.same(await ok.exited, { code: 0, signal: null }, ok.stderr())
  t.match(verifyUserSig(1400000123, 'k'.repeat(64), ok.stdout().trim()), { identifier: 'alice', expiresAt: Number })
})

t.test('when the gateway cannot be reached or nothing can sign, then it says so and exits 1', async t => {
  const dir = tempDir(t)
  const file = dump(dir, 3)
  const noSecret = await importHere([file, '--conversation', 'c2c_user2'], { TIM_DATA_DIR: join(dir, 'nowhere') })
  t.equal(noSecret.code, 1)
  t.match(noSecret.stderr, /no secret\.json in .*nowhere .*or pass --usersig/)
  const port = await freePort()
  const closed = await importHere([file, '--conversation', 'c2c_user2', '--usersig', 'x', '--url', `http://127.0.0.1:${port}`])
  t.equal(closed.code, 1)
  t.match(closed.stderr, `cannot reach the gateway at http://127.0.0.1:${port}/ (ECONNREFUSED); is it running, and is --url right?`)
  const missing = await importHere([join(dir, 'absent.ndjson'), '--conversation', 'c2c_user2', '--usersig', 'x'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /cannot read .*absent\.ndjson/)
})
