// single-download (the download suite): one file of BENCH_BYTES (1 GiB), one download at a
// time, BENCH_ROUNDS rounds of (a) a direct fetch from the origin, (b) the gateway with the
// file as a remote element URL, (c) the gateway with it as a stored upload, (d) the barest
// Node proxy of the origin. Each MB/s (the median round) is a ratio to (a): targets ≥ 0.9×
// for (b) and (c), and the gateway's peak RSS growth during each download < 64 MB.
//
// A proxy's bytes pass three processes (origin, gateway, client) where a direct fetch's pass
// two, so on a machine with few cores the ratio measures the hardware as much as the
// gateway: (d) is the yardstick for that, and (b) is also shown as a ratio to it.
// Custom measurement (not wrk): sequential downloads, the gateway's VmHWM reset before each.
import process from 'node:process'
import { Agent, request } from 'undici'
import { MB, median } from '../lib/format.mjs'
import { memory, resetPeakRss } from '../lib/proc.mjs'
import { fileElementPath, upload } from './common.mjs'

const RATIO = 0.9
const RSS_GROWTH_MB = 64

/** One download of `url` into nothing: its MB/s, and the gateway's peak RSS growth meanwhile. */
async function download (ctx, dispatcher, url, headers) {
  const { pid } = ctx.servers.gateway
  resetPeakRss(pid)
  const rssBefore = memory(pid, 'VmRSS')
  const started = process.hrtime.bigint()
  const res = await request(url, { dispatcher, headers })
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${await res.body.text()}`)
  let bytes = 0
  for await (const chunk of res.body) bytes += chunk.length
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (bytes !== ctx.knobs.bytes) throw new Error(`${url}: got ${bytes} bytes, expected ${ctx.knobs.bytes}`)
  return { seconds, mbps: bytes / MB / seconds, rssGrowthMB: (memory(pid, 'VmHWM') - rssBefore) / MB }
}

export default {
  name: 'single-download',
  servers: ['origin', 'proxy', 'gateway'],
  /** The remote-URL message, and the upload (timed); both sent to bob, who downloads. */
  async prepare (ctx) {
    const { origin } = ctx.servers
    const bytes = ctx.knobs.bytes
    const remote = await fileElementPath(ctx, { file_elem_file_size: bytes, file_elem_url: `${origin.base}/download.bin` })
    const up = await upload(ctx, origin.file, bytes, MB)
    const stored = await fileElementPath(ctx, { file_elem_file_size: bytes, file_elem_file_id: up.id })
    ctx.log(`  upload (POST /media, streamed to disk + sha256): ${(bytes / MB / up.seconds).toFixed(0)} MB/s`)
    ctx.output.uploadMBps = bytes / MB / up.seconds
    const forBob = (path) => path.replace('/c2c_bob/', '/c2c_alice/')
    return { remote: forBob(remote), stored: forBob(stored) }
  },
  async run (ctx, paths) {
    const { origin, proxy, gateway } = ctx.servers
    const bob = { authorization: `Bearer ${ctx.sign('bob')}` }
    const urls = {
      direct: [`${origin.base}/download.bin`, {}],
      remote: [`${gateway.base}${paths.remote}`, bob],
      stored: [`${gateway.base}${paths.stored}`, bob],
      bare: [`${proxy.base}/download.bin`, {}],
    }
    const runs = { direct: [], remote: [], stored: [], bare: [] }
    const dispatcher = new Agent()
    for (let round = 1; round <= ctx.knobs.rounds; round++) {
      for (const [name, [url, headers]] of Object.entries(urls)) runs[name].push(await download(ctx, dispatcher, url, headers))
      ctx.log(`  round ${round}: ${Object.entries(runs).map(([k, v]) => `${k} ${v.at(-1).mbps.toFixed(0)} MB/s`).join(', ')}`)
    }
    await dispatcher.close()
    ctx.output.singleDownloads = runs
    const mbps = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map(r => r.mbps))]))
    ctx.derive({ name: '(a) direct', server: 'origin', value: mbps.direct, shown: `${mbps.direct.toFixed(0)} MB/s`, valid: true })
    for (const [name, label] of [['remote', '(b) remote URL'], ['stored', '(c) stored upload']]) {
      const ratio = mbps[name] / mbps.direct
      const growth = Math.max(...runs[name].map(r => r.rssGrowthMB))
      ctx.derive({
        name: label,
        server: 'gateway',
        value: ratio,
        shown: `${mbps[name].toFixed(0)} MB/s, ${ratio.toFixed(2)}× direct; peak RSS growth ${growth.toFixed(1)} MB`,
        target: `≥ ${RATIO}×, < ${RSS_GROWTH_MB} MB`,
        met: ratio >= RATIO && growth < RSS_GROWTH_MB,
        valid: true,
      })
    }
    ctx.derive({
      name: '(d) barest proxy',
      server: 'proxy',
      value: mbps.bare / mbps.direct,
      shown: `${mbps.bare.toFixed(0)} MB/s, ${(mbps.bare / mbps.direct).toFixed(2)}× direct; (b)/(d) ${(mbps.remote / mbps.bare).toFixed(2)}×`,
      valid: true,
    })
  },
}
