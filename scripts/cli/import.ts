import { createHash } from 'node:crypto'
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs'
import { basename, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigError, loadConfig } from '../../src/config.js'
import { signUserSig } from '../../src/auth/usersig.js'
import { readLines, LineError, type Line } from './lines.js'
import { Progress, count, duration } from './progress.js'
import { shown, userIdProblem } from './usersig.js'

/**
 * timgate import: an NDJSON dump (one Message per line) into a conversation through
 * POST /conversations/{id}/messages/import, in batches of up to 1000 messages and under
 * 16 MiB, each with an Idempotency-Key made of the file's hash and the batch's lines;
 * progress is kept in <file>.timgate-import.json after every acknowledged batch, so that
 * running the same command again resumes where an interrupted run stopped.
 */

export const IMPORT_USAGE = `usage: timgate import <file.ndjson> --conversation <c2c_USER|group_GROUP> [options]

Imports a dump, one Message JSON per line (the SDK's keys, as POST
/conversations/{id}/messages/import takes them), into one conversation, in order.
Running the same command again after an interruption resumes after the last batch
the gateway acknowledged (progress is kept in <file.ndjson>.timgate-import.json).

options:
  --conversation <id>  the conversation: c2c_<userID> or group_<groupID> (required)
  --url <url>          the gateway (default: $TIMGATE_URL, else http://127.0.0.1:8080)
  --usersig <sig>      the UserSig to send (default: $TIMGATE_USERSIG, else one signed
                       for the admin with TIM_DATA_DIR's secret.json or
                       TIM_SDKAPPID/TIM_SECRET_KEY, as npm run usersig does)
  --as <userID>        act for this user (X-TIM-On-Behalf-Of; the UserSig must be the admin's)
  --batch <n>          messages per request, 1-1000 (default 1000); a batch is also cut
                       before it reaches 16 MiB
  --restart            forget the progress of an earlier run and start at the first line
  -h, --help           this text

exit codes: 0 imported, 1 failed (the message says why; progress is kept),
            2 usage, 130 interrupted (143 on SIGTERM; run the same command again to resume)`

/** The gateway's bodyLimit for imports (routes/messages.ts LARGE_BODY_LIMIT). */
const MAX_BODY_BYTES = 16 * 1024 * 1024
const MAX_BATCH = 1000
/** How long one batch may keep being refused as busy (429, 503, 507, 409 6015) before the run gives up. */
const BUSY_LIMIT_MS = 30 * 60_000
/** Waits after consecutive network errors and 408/500/502/504; then the run gives up. */
const BACKOFF_S = [1, 2, 4, 8, 16, 30]
/** How often the same retry is reported again. */
const NOTE_EVERY_MS = 30_000
/** The longest Retry-After honoured as it is. */
const MAX_RETRY_AFTER_S = 60
const STATE_VERSION = 1

export interface ImportOptions {
  file: string
  conversation: string
  url: URL
  usersig: string | undefined
  as: string | undefined
  batch: number
  restart: boolean
}

/** Wrong arguments: exit code 2 with the usage. */
export class UsageError extends Error {
  override name = 'UsageError'
}
/** A failure that ends the run with exit code 1; the message is the one line to print. */
class Failure extends Error {}
class Interrupted extends Error {}

/** The options of `timgate import`, 'help', or a UsageError saying what is wrong. */
export function parseImportArgs (args: string[], env: NodeJS.ProcessEnv): ImportOptions | 'help' {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        conversation: { type: 'string' },
        url: { type: 'string' },
        usersig: { type: 'string' },
        as: { type: 'string' },
        batch: { type: 'string' },
        restart: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help === true) return 'help'
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'which file? (one NDJSON dump)' : `one file at a time, got ${positionals.length}`)
  const conversation = values.conversation
  if (conversation === undefined) throw new UsageError('--conversation is required (c2c_<userID> or group_<groupID>)')
  if (!/^(c2c|group)_./.test(conversation)) throw new UsageError(`--conversation must be c2c_<userID> or group_<groupID>, got ${shown(conversation)}`)
  const rawUrl = values.url ?? env.TIMGATE_URL ?? 'http://127.0.0.1:8080'
  let url: URL
  try {
    url = new URL(rawUrl)
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got ${shown(rawUrl)}`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be an http(s) URL, got ${shown(rawUrl)}`)
  const batchRaw = values.batch ?? String(MAX_BATCH)
  if (!/^\d{1,4}$/.test(batchRaw) || Number(batchRaw) < 1 || Number(batchRaw) > MAX_BATCH) {
    throw new UsageError(`--batch must be a whole number from 1 to ${MAX_BATCH}, got ${shown(batchRaw)}`)
  }
  const as = values.as
  const asProblem = as === undefined ? undefined : userIdProblem(as)
  if (as !== undefined && asProblem !== undefined) throw new UsageError(`--as must be a UserID (1-32 bytes of printable ASCII), and ${shown(as)}: ${asProblem}`)
  const usersig = values.usersig ?? (env.TIMGATE_USERSIG === '' ? undefined : env.TIMGATE_USERSIG)
  return { file: resolve(positionals[0]!), conversation, url, usersig, as, batch: Number(batchRaw), restart: values.restart === true }
}

/** What <file>.timgate-import.json keeps between runs. */
interface State {
  version: number
  file: string
  sha256: string
  size: number
  conversation: string
  batch: number
  /** Every line up to this one (1-based) is acknowledged by the gateway. */
  lines_done: number
  messages_done: number
  lines_total: number
  messages_total: number
  complete: boolean
  updated_at: string
}

function readState (path: string): State | undefined {
  let text
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new Failure(`cannot read ${path}: ${(err as Error).message}`)
  }
  try {
    const state = JSON.parse(text) as State
    if (state.version !== STATE_VERSION || typeof state.sha256 !== 'string' || !Number.isSafeInteger(state.lines_done)) throw new Error('unexpected content')
    return state
  } catch (err) {
    throw new Failure(`${path} is not a timgate import state (${(err as Error).message}): remove it or run with --restart`)
  }
}

/** Written whole and renamed into place: a kill at any moment leaves the old or the new state. */
function writeState (path: string, state: State): void {
  const tmp = `${path}.tmp`
  try {
    const fd = openSync(tmp, 'w', 0o644)
    try {
      writeSync(fd, JSON.stringify({ ...state, updated_at: new Date().toISOString() }, null, 2) + '\n')
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (err) {
    throw new Failure(`cannot write the progress file ${path}: ${(err as Error).message}`)
  }
}

interface Scan {
  sha256: string
  size: number
  lines: number
  messages: number
}

/** Checks a message line; its trimmed text, or '' for a blank line. */
function checkedLine (line: Line): string {
  const text = line.text.trim()
  if (text === '') return ''
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new LineError(line.no, `is not valid JSON (${(err as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new LineError(line.no, 'is not a JSON object (one Message per line)')
  if (Buffer.byteLength(text) + 2 > MAX_BODY_BYTES) throw new LineError(line.no, `is ${Buffer.byteLength(text)} bytes long: one message over the gateway's 16 MiB limit for an import`)
  return text
}

/** The whole file once: its hash, its lines, and every line checked before anything is sent. */
async function scan (path: string, signal: AbortSignal): Promise<Scan> {
  const hash = createHash('sha256')
  let size = 0
  let lines = 0
  let messages = 0
  for await (const line of readLines(path, MAX_BODY_BYTES, chunk => { hash.update(chunk); size += chunk.length })) {
    if (signal.aborted) throw new Interrupted()
    lines = line.no
    if (checkedLine(line) !== '') messages++
  }
  return { sha256: hash.digest('hex'), size, lines, messages }
}

interface Batch {
  /** The lines of its first and last message. */
  first: number
  last: number
  /** The file line of each message, in order: an error's `[i]` is lines[i]. */
  lines: number[]
  body: string
}

/** The batches after line `after`: up to `max` messages, under 16 MiB of body each. */
async function * batches (path: string, after: number, max: number): AsyncGenerator<Batch> {
  let texts: string[] = []
  let lines: number[] = []
  let bytes = 2
  const cut = (): Batch => {
    const batch = { first: lines[0]!, last: lines[lines.length - 1]!, lines, body: `[${texts.join(',')}]` }
    texts = []
    lines = []
    bytes = 2
    return batch
  }
  for await (const line of readLines(path, MAX_BODY_BYTES)) {
    if (line.no <= after) continue
    const text = checkedLine(line)
    if (text === '') continue
    const size = Buffer.byteLength(text)
    if (texts.length > 0 && (texts.length >= max || bytes + 1 + size >= MAX_BODY_BYTES)) yield cut()
    bytes += (texts.length > 0 ? 1 : 0) + size
    texts.push(text)
    lines.push(line.no)
  }
  if (texts.length > 0) yield cut()
}

/** What one request came back with. */
type Answer =
  | { kind: 'ok', body: unknown, replayed: boolean }
  | { kind: 'busy', why: string, waitS: number }
  | { kind: 'transient', why: string, network?: boolean }
  | { kind: 'refused', status: number, code: number | undefined, desc: string, replayed: boolean }

const describe = (status: number, body: { code?: unknown, desc?: unknown } | undefined): string =>
  `${status}${typeof body?.code === 'number' ? ` ${body.code}` : ''}${typeof body?.desc === 'string' ? `: ${body.desc}` : ''}`

function retryAfterS (header: string | null): number {
  if (header === null) return 1
  const seconds = /^\d+$/.test(header.trim()) ? Number(header.trim()) : (Date.parse(header) - Date.now()) / 1000
  return Number.isFinite(seconds) ? Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(seconds))) : 1
}

/** The cause of a fetch failure in a few words (ECONNREFUSED, other side closed, …). */
function networkWhy (err: unknown): string {
  const cause = (err as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? (err as Error).message
}

class Gateway {
  readonly #base: URL
  readonly #headers: () => Record<string, string>
  readonly #signal: AbortSignal
  /** Some request has reached the gateway: a refused connection is then worth retrying. */
  #reached = false

  constructor (base: URL, headers: () => Record<string, string>, signal: AbortSignal) {
    this.#base = base
    this.#headers = headers
    this.#signal = signal
  }

  /** `path` (and its query) under the base URL, which may have a path of its own (a proxy's prefix). */
  url (path: string): URL {
    const url = new URL(this.#base)
    const [pathname = '', search] = path.split('?', 2)
    url.pathname = url.pathname.replace(/\/+$/, '') + pathname
    url.search = search === undefined ? '' : `?${search}`
    return url
  }

  async #once (method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<Answer> {
    let res: Response
    try {
      res = await fetch(this.url(path), {
        method,
        headers: { ...this.#headers(), ...headers, ...(body !== undefined && { 'content-type': 'application/json' }) },
        body,
        signal: this.#signal,
      })
    } catch (err) {
      if (this.#signal.aborted) throw new Interrupted()
      const why = networkWhy(err)
      if (!this.#reached) throw new Failure(`cannot reach the gateway at ${this.#base.href} (${why}); is it running, and is --url right?`)
      return { kind: 'transient', why: `network error: ${why}`, network: true }
    }
    this.#reached = true
    let text: string
    try {
      text = await res.text()
    } catch (err) {
      if (this.#signal.aborted) throw new Interrupted()
      return { kind: 'transient', why: `network error reading the answer: ${networkWhy(err)}` }
    }
    let json: unknown
    try {
      json = text === '' ? undefined : JSON.parse(text)
    } catch {
      json = undefined
    }
    if (res.ok) {
      if (json === undefined) return { kind: 'transient', why: `${res.status} with a body that is not JSON` }
      return { kind: 'ok', body: json, replayed: res.headers.get('idempotent-replayed') === 'true' }
    }
    const err = json as { code?: unknown, desc?: unknown } | undefined
    const what = describe(res.status, err)
    if (res.status === 429 || res.status === 503 || res.status === 507 || (res.status === 409 && err?.code === 6015)) {
      return { kind: 'busy', why: what, waitS: retryAfterS(res.headers.get('retry-after')) }
    }
    if (res.status === 408 || res.status === 500 || res.status === 502 || res.status === 504) return { kind: 'transient', why: what }
    return {
      kind: 'refused',
      status: res.status,
      code: typeof err?.code === 'number' ? err.code : undefined,
      desc: typeof err?.desc === 'string' ? err.desc : text.slice(0, 500),
      replayed: res.headers.get('idempotent-replayed') === 'true',
    }
  }

  /**
   * A request, retried while the gateway is busy (Retry-After) or unreachable (backoff):
   * the ok or refused answer, or a Failure once retrying is no use.
   */
  async request (method: string, path: string, body: string | undefined, headers: Record<string, string>,
    what: string, progress: Progress | undefined, say: (line: string) => void): Promise<Extract<Answer, { kind: 'ok' | 'refused' }>> {
    const busySince = Date.now()
    let failures = 0
    // A gateway busy for minutes says so once, then every NOTE_EVERY_MS, not every second.
    let said = ''
    let saidAt = 0
    const note = (line: string, why: string) => {
      if (why === said && Date.now() - saidAt < NOTE_EVERY_MS) return
      said = why
      saidAt = Date.now()
      say(line)
    }
    for (;;) {
      let answer = await this.#once(method, path, body, headers)
      if (answer.kind === 'ok' || answer.kind === 'refused') return answer
      if (answer.kind === 'transient' && answer.network === true && body !== undefined) {
        // A busy gateway refuses a heavy request on its headers and closes the connection
        // (429 9506): a client still sending a large body sees only the broken pipe. An
        // empty import (refused 400 when admitted, so it stores nothing) asks which it was.
        const probe = await this.#once(method, path, '[]', {})
        if (probe.kind === 'busy') answer = probe
      }
      let waitS: number
      if (answer.kind === 'busy') {
        if (Date.now() - busySince > BUSY_LIMIT_MS) {
          throw new Failure(`${what}: the gateway still refuses after ${duration(BUSY_LIMIT_MS / 1000)} (${answer.why}); run the same command again to resume`)
        }
        failures = 0
        waitS = answer.waitS
        note(`${what}: gateway busy (${answer.why}), retrying in ${waitS} s`, answer.why)
      } else {
        if (failures >= BACKOFF_S.length) {
          throw new Failure(`${what}: ${answer.why}, ${failures + 1} times in a row; run the same command again to resume`)
        }
        waitS = BACKOFF_S[failures++]!
        note(`${what}: ${answer.why}, retrying in ${waitS} s`, answer.why)
      }
      progress?.status(`retrying in ${waitS} s`)
      try {
        await sleep(waitS * 1000, undefined, { signal: this.#signal })
      } catch {
        throw new Interrupted()
      }
    }
  }
}

/** `desc` with a leading message index `[i]` as the file line it came from. */
function withLine (desc: string, lines: number[]): { line: number | undefined, desc: string } {
  const m = /^\[(\d+)\]\.?/.exec(desc)
  const line = m === null ? undefined : lines[Number(m[1])]
  return line === undefined ? { line: undefined, desc } : { line, desc: `line ${line}: ${desc}` }
}

/** Where the command writes: the summary to stdout, everything else to stderr. */
export interface Io {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream & { isTTY?: boolean, columns?: number }
}

/** Runs `timgate import …`; resolves with the exit code. */
export async function importCommand (args: string[], env: NodeJS.ProcessEnv = process.env,
  io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let options: ImportOptions | 'help'
  try {
    options = parseImportArgs(args, env)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    io.stderr.write(`timgate import: ${err.message}\n${IMPORT_USAGE.split('\n')[0]}\n(timgate import --help for more)\n`)
    return 2
  }
  if (options === 'help') {
    io.stdout.write(IMPORT_USAGE + '\n')
    return 0
  }

  const abort = new AbortController()
  let signalled: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    signalled ??= signal
    abort.abort()
  }
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
  let progress: Progress | undefined
  const say = (line: string) => progress === undefined ? io.stderr.write(`timgate import: ${line}\n`) : progress.note(line)
  try {
    return await run(options, env, io, abort.signal, say, p => { progress = p })
  } catch (err) {
    progress?.finish()
    if (err instanceof Interrupted || (abort.signal.aborted && !(err instanceof Failure))) {
      io.stderr.write(`timgate import: interrupted (${signalled ?? 'aborted'}); the batch in flight may or may not be stored: run the same command again to resume (a replayed batch is not stored twice)\n`)
      return signalled === 'SIGTERM' ? 143 : 130
    }
    if (err instanceof Failure || err instanceof LineError) {
      io.stderr.write(`timgate import: ${err.message}\n`)
      return 1
    }
    throw err
  } finally {
    progress?.finish()
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal)
  }
}

async function run (o: ImportOptions, env: NodeJS.ProcessEnv, io: Io, signal: AbortSignal, say: (line: string) => void,
  started: (p: Progress) => void): Promise<number> {
  const t0 = Date.now()
  const name = basename(o.file)
  try {
    if (!statSync(o.file).isFile()) throw new Failure(`${o.file} is not a file`)
  } catch (err) {
    if (err instanceof Failure) throw err
    throw new Failure(`cannot read ${o.file}: ${(err as Error).message}`)
  }

  // Who we are: the given UserSig, or the admin's, signed afresh for every request.
  let who: string
  let authorization: () => string
  if (o.usersig !== undefined) {
    const sig = o.usersig
    who = 'the given UserSig'
    authorization = () => `Bearer ${sig}`
  } else {
    let config
    try {
      config = loadConfig(env, { createSecret: false })
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      throw new Failure(`${err.message} (or pass --usersig)`)
    }
    const { sdkAppId, secretKey, adminIdentifier } = config
    who = `the admin ${shown(adminIdentifier)}`
    authorization = () => `Bearer ${signUserSig(sdkAppId, secretKey, adminIdentifier, 3600)}`
  }
  const gateway = new Gateway(o.url, () => ({
    authorization: authorization(),
    'user-agent': 'timgate-import/1',
    ...(o.as !== undefined && { 'x-tim-on-behalf-of': o.as }),
  }), signal)

  // The file, checked whole before anything is sent: a bad line is found in seconds, not hours.
  let file: Scan
  try {
    file = await scan(o.file, signal)
  } catch (err) {
    if (err instanceof LineError) throw new Failure(`${name}: ${err.message}; nothing was sent`)
    throw err
  }
  const statePath = `${o.file}.timgate-import.json`
  let state = o.restart ? undefined : readState(statePath)
  if (state !== undefined) {
    if (state.sha256 !== file.sha256) {
      throw new Failure(`${name} has changed since the import recorded in ${statePath} (${count(state.lines_done)} of ${count(state.lines_total)} lines done): ` +
        'run with --restart to import it from the first line (re-imported messages that carry their time are found again, not stored twice)')
    }
    if (state.conversation !== o.conversation) {
      throw new Failure(`${statePath} records an import of ${name} into ${state.conversation}, not ${o.conversation}: run with --restart to import it into ${o.conversation} from the first line`)
    }
    if (state.complete) {
      io.stdout.write(`${name}: already imported into ${o.conversation} (${count(state.messages_done)} messages, recorded in ${statePath}); --restart imports it again\n`)
      return 0
    }
  }
  const batchSize = state?.batch ?? o.batch
  if (state !== undefined && state.batch !== o.batch) say(`resuming with batches of ${state.batch}, as the interrupted run had them (the same batches replay safely)`)
  state ??= {
    version: STATE_VERSION,
    file: o.file,
    sha256: file.sha256,
    size: file.size,
    conversation: o.conversation,
    batch: batchSize,
    lines_done: 0,
    messages_done: 0,
    lines_total: file.lines,
    messages_total: file.messages,
    complete: false,
    updated_at: '',
  }
  writeState(statePath, state)

  const conv = `/conversations/${encodeURIComponent(o.conversation)}`
  say(`${name}: ${count(file.messages)} messages in ${count(file.lines)} lines (sha256 ${file.sha256.slice(0, 12)}…) into ${o.conversation} at ${o.url.href} as ${who}` +
    `${o.as === undefined ? '' : ` for ${shown(o.as)}`}, batches of up to ${batchSize}` +
    (state.lines_done > 0 ? `; resuming after line ${count(state.lines_done)} (${count(state.messages_done)} messages done)` : ''))

  // The conversation's newest seq before we add to it: a returned message at or below it was
  // there already (a re-import answers with the stored message). Also checks access up front.
  const newest = await gateway.request('GET', `${conv}/messages?count=1`, undefined, {}, 'checking the conversation', undefined, say)
  if (newest.kind === 'refused') {
    throw new Failure(`the gateway refused access to ${o.conversation} (${describe(newest.status, { code: newest.code, desc: newest.desc })}); nothing was sent`)
  }
  let knownSeq = Array.isArray(newest.body) ? Math.max(0, ...newest.body.map(m => Number((m as { message_seq?: unknown }).message_seq) || 0)) : 0

  const progress = new Progress(io.stderr, file.messages, state.messages_done)
  started(progress)
  const keyBase = `timgate-import:${file.sha256.slice(0, 32)}:${createHash('sha256').update(o.conversation).digest('hex').slice(0, 8)}`
  let imported = 0
  let present = 0
  let sent = 0
  const firstLine = state.lines_done + 1
  const batchesAfter = async function * (after: number): AsyncGenerator<Batch> {
    try {
      yield * batches(o.file, after, batchSize)
    } catch (err) {
      if (!(err instanceof LineError)) throw err
      throw new Failure(`${name}: ${err.message} (the file changed while it was imported); ${state!.lines_done === 0 ? 'nothing is imported' : `lines 1-${state!.lines_done} are imported`}`)
    }
  }
  for await (const batch of batchesAfter(state.lines_done)) {
    if (signal.aborted) throw new Interrupted()
    const what = `lines ${batch.first}-${batch.last}`
    const key = `${keyBase}:${batch.first}-${batch.last}`
    let answer = await gateway.request('POST', `${conv}/messages/import`, batch.body, { 'idempotency-key': key }, what, progress, say)
    if (answer.kind === 'refused' && answer.replayed) {
      // The gateway repeats what it answered this key before (it remembers for 24 hours), and
      // the cause may be gone (a membership, an upload). A refused import stored nothing, so
      // a fresh key is safe: it asks again.
      answer = await gateway.request('POST', `${conv}/messages/import`, batch.body, { 'idempotency-key': `${key}:again-${Date.now()}` }, what, progress, say)
    }
    if (answer.kind === 'refused') {
      const { line, desc } = withLine(answer.desc, batch.lines)
      const done = state.lines_done === 0 ? 'nothing of the file is imported' : `lines 1-${state.lines_done} are imported`
      throw new Failure(`the gateway refused ${what} (${answer.status}${answer.code === undefined ? '' : ` ${answer.code}`}): ${desc}; ` +
        `nothing of these lines is stored (an import is all or nothing), ${done}` +
        (line === undefined ? '' : `; fix line ${line} and run again with --restart`))
    }
    const stored = answer.body
    if (!Array.isArray(stored) || stored.length !== batch.lines.length) {
      throw new Failure(`${what}: the gateway answered 200 with ${Array.isArray(stored) ? `${stored.length} messages for ${batch.lines.length}` : 'something other than a list of messages'}`)
    }
    // New messages take seqs above everything the conversation had; one message twice in a batch is stored once.
    const seen = new Set<string>()
    let batchNew = 0
    for (const m of stored as Array<{ message_seq?: unknown, message_msg_id?: unknown }>) {
      const seq = Number(m.message_seq) || 0
      const id = String(m.message_msg_id)
      if (!answer.replayed && seq > knownSeq && !seen.has(id)) batchNew++
      seen.add(id)
    }
    knownSeq = Math.max(knownSeq, ...stored.map(m => Number((m as { message_seq?: unknown }).message_seq) || 0))
    imported += batchNew
    present += stored.length - batchNew
    sent++
    state = { ...state, lines_done: batch.last, messages_done: state.messages_done + stored.length }
    writeState(statePath, state)
    progress.update(state.messages_done)
  }
  state = { ...state, lines_done: file.lines, complete: true }
  writeState(statePath, state)
  progress.finish()
  const seconds = (Date.now() - t0) / 1000
  const lines = firstLine > file.lines ? 'no lines left' : `lines ${count(firstLine)}-${count(file.lines)}`
  io.stdout.write(`${name}: imported ${count(imported)} messages, ${count(present)} already present, into ${o.conversation} in ` +
    `${count(sent)} batch${sent === 1 ? '' : 'es'} (${lines}${firstLine > 1 ? `, resumed after line ${count(firstLine - 1)}` : ''}) in ${duration(seconds)}` +
    `${seconds >= 1 && imported + present > 0 ? ` (${count(Math.round((imported + present) / seconds))} msg/s)` : ''}\n`)
  return 0
}
