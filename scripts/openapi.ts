import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const here = dirname(fileURLToPath(import.meta.url))
/** This file runs as scripts/openapi.ts (tests) and as dist/scripts/openapi.js (npm run openapi). */
const root = resolve(here, basename(dirname(here)) === 'dist' ? '../..' : '..')

/** Where the committed document lives. */
export const OPENAPI_FILE = join(root, 'openapi', 'openapi.json')

/**
 * The OpenAPI document of the route schemas, as committed: a whole app on a throwaway data
 * dir with fixed credentials, so nothing secret or random reaches the text.
 */
export async function generateOpenApi (): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'timgate-openapi-'))
  try {
    const config = loadConfig({ TIM_DATA_DIR: dataDir, LOG_LEVEL: 'silent', TIM_SDKAPPID: '1400000000', TIM_SECRET_KEY: 'openapi' })
    const app = await buildApp({ config })
    try {
      await app.ready()
      return JSON.stringify(app.swagger(), null, 2) + '\n'
    } finally {
      await app.close()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/** Writes the document to openapi/openapi.json (npm run openapi). */
export async function writeOpenApi (file = OPENAPI_FILE): Promise<void> {
  const text = await generateOpenApi()
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
}

/** Run as `node dist/scripts/openapi.js`, not imported (a test imports it to compare). */
function isMain (): boolean {
  const entry = process.argv[1]
  try {
    return entry !== undefined && realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}

if (isMain()) {
  await writeOpenApi()
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`)
}
