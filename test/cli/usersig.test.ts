import t from 'tap'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ConfigError, loadConfig } from '../../src/config.js'
import { verifyUserSig } from '../../src/auth/usersig.js'
import { userIdProblem } from '../../scripts/cli/usersig.js'
import { tempDir } from '../helper.js'
import { spawnEntry } from './harness.js'

// npm run usersig / timgate usersig: say what is wrong with an identifier, and never make a
// secret of their own (its UserSigs would be refused by the server, which has another).

const SECRET = { sdkappid: 1400000123, secret_key: 'k'.repeat(64) }

t.test('when loadConfig may not create a secret and there is none, then it names where it looked and creates nothing', async t => {
  const dir = tempDir(t)
  const dataDir = join(dir, 'data')
  t.throws(() => loadConfig({ TIM_DATA_DIR: dataDir }, { createSecret: false }), {
    name: 'ConfigError',
    message: `no secret.json in ${dataDir} (TIM_DATA_DIR=${dataDir}) and TIM_SDKAPPID/TIM_SECRET_KEY are not set: ` +
      'start the server once with this TIM_DATA_DIR, run from the directory the server runs in (or set TIM_DATA_DIR to its data dir), or set TIM_SDKAPPID and TIM_SECRET_KEY',
  })
  t.same(readdirSync(dir), [], 'not even the data dir')

  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => process.chdir(cwd))
  t.throws(() => loadConfig({}, { createSecret: false }), { message: `no secret.json in ${resolve(dir, 'data')} (TIM_DATA_DIR is unset: ./data of the current directory)` })
  process.chdir(cwd)
  t.same(readdirSync(dir), [])

  t.match(loadConfig({ TIM_DATA_DIR: dataDir, TIM_SDKAPPID: '1400000001', TIM_SECRET_KEY: 'key' }, { createSecret: false }), { sdkAppId: 1400000001, secretKey: 'key' },
    'the variables need no file')
  mkdirSync(dataDir)
  writeFileSync(join(dataDir, 'secret.json'), JSON.stringify(SECRET))
  t.match(loadConfig({ TIM_DATA_DIR: dataDir }, { createSecret: false }), { sdkAppId: SECRET.sdkappid, secretKey: SECRET.secret_key }, 'the server\'s secret')
  t.ok(loadConfig({ TIM_DATA_DIR: join(dir, 'fresh') }).secretKey, 'by default a first start still creates one')
  t.ok(existsSync(join(dir, 'fresh', 'secret.json')))
  t.type(new ConfigError('x'), Error)
})

t.test('when an identifier is not a UserID, then the problem is named', async t => {
  t.equal(userIdProblem('alice'), undefined)
  t.equal(userIdProblem('a'.repeat(32)), undefined)
  t.equal(userIdProblem(''), 'it is empty')
  t.equal(userIdProblem('a'.repeat(33)), 'it is 33 bytes long')
  t.equal(userIdProblem('al\tice'), 'character 3 is U+0009, which is not printable ASCII')
  t.equal(userIdProblem('zoë'), 'character 3 is U+00EB, which is not printable ASCII')
})

t.test('when the usersig command gets an invalid identifier, then it says what is wrong with the value', async t => {
  const dir = tempDir(t)
  const run = spawnEntry(t, ['scripts/usersig.ts', 'al\tice'], { TIM_DATA_DIR: dir })
  t.same(await run.exited, { code: 2, signal: null })
  t.equal(run.stderr(), 'timgate: invalid identifier "al\\tice": a UserID is 1-32 bytes of printable ASCII, and character 3 is U+0009, which is not printable ASCII\n' +
    'usage: npm run usersig -- <identifier> [expire_seconds]\n')
  t.equal(run.stdout(), '')
  t.same(readdirSync(dir), [], 'no secret made')
})

t.test('when the usersig command runs where there is no secret, then it stops with one line saying where it looked, and makes none', async t => {
  const dir = tempDir(t)
  // Run from another directory, TIM_DATA_DIR unset: ./data there.
  const run = spawnEntry(t, [resolve('scripts/usersig.ts'), 'alice'], {}, dir)
  t.same(await run.exited, { code: 1, signal: null })
  t.equal(run.stderr().split('\n').filter(l => l !== '').length, 1, run.stderr())
  t.match(run.stderr(), `timgate: no secret.json in ${join(dir, 'data')} (TIM_DATA_DIR is unset: ./data of the current directory)`)
  t.match(run.stderr(), /start the server once with this TIM_DATA_DIR/)
  t.same(readdirSync(dir), [], 'nothing created')

  // With the server's secret: a UserSig the server accepts.
  mkdirSync(join(dir, 'data'))
  writeFileSync(join(dir, 'data', 'secret.json'), JSON.stringify(SECRET))
  const ok = spawnEntry(t, ['scripts/usersig.ts', 'alice', '600'], { TIM_DATA_DIR: join(dir, 'data') })
  t.same(await ok.exited, { code: 0, signal: null }, ok.stderr())
  t.match(verifyUserSig(SECRET.sdkappid, SECRET.secret_key, ok.stdout().trim()), { identifier: 'alice' })
})
