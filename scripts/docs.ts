import { readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { catalogue } from '../src/errors.js'

const here = dirname(fileURLToPath(import.meta.url))
/** This file runs as scripts/docs.ts (tests) and as dist/scripts/docs.js (npm run docs). */
const root = resolve(here, basename(dirname(here)) === 'dist' ? '../..' : '..')
export const ERRORS_FILE = join(root, 'docs', 'errors.md')

const START = '<!-- catalogue:start -->'
const END = '<!-- catalogue:end -->'
/** Markdown table cells: `<userID>` must not read as HTML, `|` must not end the cell. */
const cell = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|')

/** The error table of the catalogue, as docs/errors.md has it between its markers. */
export function errorTable (): string {
  return ['| code | HTTP | when |', '|---|---|---|', ...catalogue.map(e => `| ${e.code} | ${e.status} | ${cell(e.when)} |`)].join('\n')
}

/** `text` with the table between the markers replaced by today's. */
export function withErrorTable (text: string): string {
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  if (start < 0 || end < start) throw new Error(`${ERRORS_FILE} has lost its ${START} … ${END} markers`)
  return `${text.slice(0, start + START.length)}\n${errorTable()}\n${text.slice(end)}`
}

/** Run as `node dist/scripts/docs.js` (npm run docs): rewrites the generated parts of docs/. */
function isMain (): boolean {
  const entry = process.argv[1]
  try {
    return entry !== undefined && realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isMain()) {
  writeFileSync(ERRORS_FILE, withErrorTable(readFileSync(ERRORS_FILE, 'utf8')))
  process.stdout.write(`wrote ${ERRORS_FILE}\n`)
}
