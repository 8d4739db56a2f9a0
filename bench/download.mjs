// Download benchmark (issue 4): never part of `npm test`. Run with `npm run bench:download`
// (it builds first). It serves a 1 GiB file from a local origin (its own process) and
// downloads it (a) straight from the origin, (b) through the gateway as a remote element
// URL, (c) through the gateway as a stored upload, then prints each throughput as a ratio
// to (a) measured in the same run, and the gateway's peak RSS growth during each download.
// Targets: ratio >= 0.9, RSS growth < 64 MB.
//
// A proxy's bytes pass three processes (origin, gateway, client) where a direct fetch's
// pass two, so on a machine with few cores the ratio measures the hardware as much as
// the gateway. (d) is the yardstick for that: the barest Node proxy (node:http piping an
// undici response), measured in the same run; (b) is also printed as a ratio to it.
//
// Plain JS importing dist/: the build does not compile bench/, and the gateway runs as
// `npm start` would run it, in a child process whose /proc/<pid>/status is sampled.
import { Buffer } from 'node:buffer'
import { spawn } from 'node:child_process'
import process from 'node:process'
import { URL } from 'node:url'
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'
import { signUserSig } from '../dist/src/auth/usersig.js'
import { freePort, median, memory, waitFor } from './lib.mjs'

const SIZE = Number(process.env.BENCH_BYTES ?? 1024 ** 3)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const MB = 1024 * 1024
const root = new URL('..', import.meta.url).pathname

function child (args, env) {
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return proc
}

const status = memory

/** Downloads `url` into nothing, counting bytes; seconds taken and the gateway's RSS growth. */
async function measure (dispatcher, url, headers, gatewayPid) {
  // Writing 5 to clear_refs resets VmHWM, so the peak is this download's own.
  writeFileSync(`/proc/${gatewayPid}/clear_refs`, '5')
  const rssBefore = status(gatewayPid, 'VmRSS')
  const started = process.hrtime.bigint()
  const res = await request(url, { dispatcher, headers })
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${await res.body.text()}`)
  let bytes = 0
  for await (const chunk of res.body) bytes += chunk.length
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (bytes !== SIZE) throw new Error(`${url}: got ${bytes} bytes, expected ${SIZE}`)
  return { seconds, mbps: SIZE / MB / seconds, rssGrowth: status(gatewayPid, 'VmHWM') - rssBefore }
}

async function main () {
  const dir = mkdtempSync(join(tmpdir(), 'timgate-bench-'))
  const procs = []
  try {
    const file = join(dir, 'big.bin')
    const block = Buffer.alloc(MB)
    for (let i = 0; i < MB; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i)
    const out = createWriteStream(file)
    for (let written = 0; written < SIZE; written += MB) {
      if (!out.write(block.subarray(0, Math.min(MB, SIZE - written)))) await once(out, 'drain')
    }
    out.end()
    await once(out, 'finish')

    const origin = child([new URL(import.meta.url).pathname, 'origin', file], { BENCH_BYTES: String(SIZE) })
    procs.push(origin)
    const [originPort] = await once(origin, 'message')

    const appId = 1400000001
    const key = 'bench-secret'
    const port = await freePort()
    const gateway = child([join(root, 'dist/src/server.js')], {
      HOST: '127.0.0.1',
      PORT: String(port),
      TIM_DATA_DIR: join(dir, 'data'),
      TIM_SDKAPPID: String(appId),
      TIM_SECRET_KEY: key,
      TIM_DOWNLOAD_ALLOWED_HOSTS: `127.0.0.1:${originPort}`,
      TIM_MEDIA_MAX_BYTES: String(2 * SIZE),
      TIM_RATE_LIMIT: '0',
      LOG_LEVEL: 'warn',
    })
    procs.push(gateway)
    const base = `http://127.0.0.1:${port}`
    await waitFor(`${base}/health`)

    const auth = (user) => ({ authorization: `Bearer ${signUserSig(appId, key, user, 3600)}` })
    const json = async (method, path, user, body) => {
      const res = await request(`${base}${path}`, { method, headers: { ...auth(user), 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const parsed = await res.body.json()
      if (res.statusCode >= 300) throw new Error(`${path}: ${res.statusCode} ${JSON.stringify(parsed)}`)
      return parsed
    }

    const bare = child([new URL(import.meta.url).pathname, 'proxy', String(originPort)], {})
    procs.push(bare)
    const [barePort] = await once(bare, 'message')

    const remoteUrl = `http://127.0.0.1:${originPort}/big.bin`
    const remoteMsg = await json('POST', '/conversations/c2c_bob/messages', 'alice', {
      message_elem_array: [{ elem_type: 4, file_elem_file_name: 'big.bin', file_elem_file_size: SIZE, file_elem_url: remoteUrl }],
    })
    const uploadStart = process.hrtime.bigint()
    const up = await request(`${base}/media`, { method: 'POST', headers: { ...auth('alice'), 'content-type': 'application/octet-stream', 'content-length': String(SIZE) }, body: createReadStream(file, { highWaterMark: MB }) })
    const upload = await up.body.json()
    if (up.statusCode !== 201) throw new Error(`upload: ${up.statusCode} ${JSON.stringify(upload)}`)
    const uploadSeconds = Number(process.hrtime.bigint() - uploadStart) / 1e9
    const storedMsg = await json('POST', '/conversations/c2c_bob/messages', 'alice', {
      message_elem_array: [{ elem_type: 4, file_elem_file_name: 'big.bin', file_elem_file_size: SIZE, file_elem_file_id: upload.id }],
    })

    const dispatcher = new Agent()
    const runs = { direct: [], remote: [], stored: [], bare: [] }
    for (let round = 1; round <= ROUNDS; round++) {
      runs.direct.push(await measure(dispatcher, remoteUrl, {}, gateway.pid))
      runs.remote.push(await measure(dispatcher, `${base}/conversations/c2c_alice/messages/${remoteMsg.message_msg_id}/elements/0/content`, auth('bob'), gateway.pid))
      runs.stored.push(await measure(dispatcher, `${base}/conversations/c2c_alice/messages/${storedMsg.message_msg_id}/elements/0/content`, auth('bob'), gateway.pid))
      runs.bare.push(await measure(dispatcher, `http://127.0.0.1:${barePort}/`, {}, gateway.pid))
      process.stdout.write(`round ${round}: ${Object.entries(runs).map(([k, v]) => `${k} ${v.at(-1).mbps.toFixed(0)} MB/s`).join(', ')}\n`)
    }
    await dispatcher.close()

    const direct = median(runs.direct.map(r => r.mbps))
    const bareMbps = median(runs.bare.map(r => r.mbps))
    const lines = [
      `timgate download benchmark: ${(SIZE / MB).toFixed(0)} MiB, median of ${ROUNDS} rounds, node ${process.version}`,
      `upload (POST /media, streamed to disk + sha256): ${(SIZE / MB / uploadSeconds).toFixed(0)} MB/s`,
      `(a) direct from the origin:             ${direct.toFixed(0)} MB/s`,
    ]
    let ok = true
    for (const [name, label] of [['remote', '(b) gateway, remote element URL:'], ['stored', '(c) gateway, stored upload:     ']]) {
      const mbps = median(runs[name].map(r => r.mbps))
      const growth = Math.max(...runs[name].map(r => r.rssGrowth)) / MB
      const ratio = mbps / direct
      ok &&= ratio >= 0.9 && growth < 64
      lines.push(`${label}       ${mbps.toFixed(0)} MB/s, ratio ${ratio.toFixed(2)} (target >= 0.9), peak RSS growth ${growth.toFixed(1)} MB (target < 64)`)
    }
    const remoteMbps = median(runs.remote.map(r => r.mbps))
    lines.push(`(d) barest Node proxy (yardstick):      ${bareMbps.toFixed(0)} MB/s, ratio ${(bareMbps / direct).toFixed(2)}; (b) / (d) = ${(remoteMbps / bareMbps).toFixed(2)}`)
    lines.push(ok ? 'targets met' : 'TARGETS MISSED')
    process.stdout.write(lines.join('\n') + '\n')
  } finally {
    for (const p of procs) p.kill('SIGTERM')
    await sleep(200)
    rmSync(dir, { recursive: true, force: true })
  }
}

// --- the origin: a child process serving one file, so it does not share the client's CPU time ---
if (process.argv[2] === 'origin') {
  const file = process.argv[3]
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': SIZE, etag: '"bench"' })
    createReadStream(file, { highWaterMark: MB }).pipe(res)
  })
  server.listen(0, '127.0.0.1', () => process.send(server.address().port))
} else if (process.argv[2] === 'proxy') {
  const upstream = `http://127.0.0.1:${process.argv[3]}`
  const server = createServer(async (req, res) => {
    const up = await request(upstream, { path: '/big.bin' })
    res.writeHead(200, { 'content-length': up.headers['content-length'] })
    up.body.pipe(res)
  })
  server.listen(0, '127.0.0.1', () => process.send(server.address().port))
} else {
  await main()
}
