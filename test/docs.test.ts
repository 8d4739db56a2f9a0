import t from 'tap'
import { readFileSync } from 'node:fs'
import { ERRORS_FILE, withErrorTable } from '../scripts/docs.js'

t.test('when the error catalogue changes, then docs/errors.md says so (npm run docs rewrites it)', async t => {
  const committed = readFileSync(ERRORS_FILE, 'utf8')
  t.equal(committed, withErrorTable(committed), 'docs/errors.md has the catalogue\'s table: run npm run docs and commit it')
  t.match(committed, /\| 6004 \| 400 \| the conversation ID is not c2c_&lt;userID&gt; or group_&lt;groupID&gt; \|/, 'placeholders are escaped, not read as HTML')
})
