// Every knob of the benchmarks, read from the environment once: BENCH_<NAME>. A suite may
// change a default (bench:pg logs to /dev/null unless told otherwise).
import process from 'node:process'
import { MB, parseSize } from './format.mjs'

export function readKnobs (defaults = {}, env = process.env) {
  const raw = (name, fallback) => env[name] ?? defaults[name] ?? fallback
  const num = (name, fallback, { zero = false } = {}) => {
    const v = Number(raw(name, fallback))
    if (!Number.isFinite(v) || v < 0 || (v === 0 && !zero)) throw new Error(`${name} must be a ${zero ? 'non-negative' : 'positive'} number, got "${env[name]}"`)
    return v
  }
  const sizes = (name, fallback) => [...new Set(raw(name, fallback).split(',').filter(s => s.trim() !== '').map(parseSize))].sort((a, b) => a - b)
  return {
    // every suite
    duration: num('BENCH_DURATION', 10), // seconds measured per run
    warmup: num('BENCH_WARMUP', 2), // seconds of unmeasured load before it
    connections: num('BENCH_CONNECTIONS', 100),
    bulkConnections: num('BENCH_BULK_CONNECTIONS', 10), // import and batch
    downloadConnections: num('BENCH_DOWNLOAD_CONNECTIONS', 10),
    timeout: num('BENCH_TIMEOUT', 30), // wrk's per-request timeout, seconds
    rounds: num('BENCH_ROUNDS', 1), // runs per server, alternating who goes first; the median counts
    logLevel: raw('BENCH_LOG_LEVEL', 'info'),
    logTo: raw('BENCH_LOG', 'file'), // `file`: one per server in the temp dir; or a path such as /dev/null
    keep: raw('BENCH_KEEP', '0') === '1', // keep the temp dir (logs, databases)
    scenarios: raw('BENCH_SCENARIOS', ''), // comma-separated names or groups; empty: all of the suite
    cpuProf: raw('BENCH_CPU_PROF', '0') === '1', // node servers under --cpu-prof, summarized at the end
    nodeArgs: raw('BENCH_NODE_ARGS', '').split(' ').filter(Boolean), // more node flags for the servers (NODE_OPTIONS refuses --trace-gc)
    gatewayNodeArgs: raw('BENCH_GATEWAY_NODE_ARGS', '').split(' ').filter(Boolean), // more node flags for the gateway only: tuning it against unchanged baselines
    // SQLite scenarios
    historySizes: sizes('BENCH_HISTORY_SIZES', '10k,1m,10m'),
    searchSizes: sizes('BENCH_SEARCH_SIZES', '100k,1m'), // search: the history sizes it is measured at
    searchUsers: num('BENCH_SEARCH_USERS', 10_000), // search: the users the history is among
    downloadBytes: num('BENCH_DOWNLOAD_BYTES', MB),
    rssDuration: num('BENCH_RSS_DURATION', 60, { zero: true }), // 0 skips the sustained-RSS run
    hogConcurrency: raw('BENCH_HOG_CONCURRENCY', '8,48').split(',').map(Number), // starvation: the hog's imports in flight
    lightRate: num('BENCH_LIGHT_RATE', 100), // starvation: light requests a second from the other identities
    webhookSeconds: num('BENCH_WEBHOOK_SECONDS', 60), // webhooks: the fixed-rate run at 40 % of the ceiling
    convListSize: num('BENCH_CONV_LIST', 10000), // conversations: the large list's conversations (the small one has 100)
    // PostgreSQL scenarios
    pgUrl: raw('BENCH_PG_URL', 'postgres://postgres@127.0.0.1:5432/test'),
    pool: num('BENCH_POOL', 10), // the gateway's TIM_PG_POOL_SIZE and the naive server's pool
    conversations: num('BENCH_CONVERSATIONS', 1000), // pg-send's peers
    historyRows: num('BENCH_HISTORY_ROWS', 5000), // pg-history's conversation
    baselineExtraReads: num('BENCH_BASELINE_EXTRA_READS', 0, { zero: true }), // diagnostic, see baselines/naive-pg.mjs
    // the download suite
    bytes: num('BENCH_BYTES', 1024 * MB),
  }
}
