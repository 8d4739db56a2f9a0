// Seeding the history scenario's SQLite files with SQL, in worker threads: this module is
// also the worker's code.
import process from 'node:process'
import { URL } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'

/** seedFile in a worker thread (which the cleanup ends); resolves with its seconds. */
export function seedInWorker (ctx, job) {
  return new Promise((resolve, reject) => {
    const w = ctx.track(new Worker(new URL(import.meta.url), { workerData: job }))
    w.once('message', resolve)
    w.once('error', reject)
    w.once('exit', (code) => reject(new Error(`seeding ${job.file} stopped with exit code ${code}`)))
  })
}

/**
 * Grows the one history conversation of a stopped server's SQLite file from `from` to `to`
 * messages (seq from+1 … to, one second apart, ending in the past), in transactions of a
 * million rows: the gateway's schema (messages and the conversation's seq/time allocator)
 * or the naive baseline's table. Runs in a worker thread (the gateway's and the naive
 * file are seeded at the same time); answers the seconds it took.
 */
function seedFile ({ file, kind, convKey, sender: me, peer, text, from, to, t0 }, Database) {
  const started = process.hrtime.bigint()
  const db = new Database(file)
  try {
    db.pragma('synchronous = OFF')
    db.pragma('cache_size = -1000000')
    const content = `'{"message_elem_array":[{"elem_type":0,"text_elem_content":"${text}, history #' || i || '"}]}'`
    const sender = `CASE i % 2 WHEN 0 THEN '${me}' ELSE '${peer}' END`
    const insert = kind === 'gateway'
      ? db.prepare(`WITH RECURSIVE c(i) AS (SELECT CAST(@lo AS INTEGER) UNION ALL SELECT i + 1 FROM c WHERE i < @hi)
          INSERT INTO messages (conv_key, seq, sender, owner, server_time, client_time, rand, status, origin, elem_mask, content)
          SELECT @conv, i, ${sender}, NULL, @t0 + i, @t0 + i, (i * 2654435761) % 4294967296, 2, 0, 1, ${content} FROM c`)
      : db.prepare(`WITH RECURSIVE c(i) AS (SELECT CAST(@lo AS INTEGER) UNION ALL SELECT i + 1 FROM c WHERE i < @hi)
          INSERT INTO messages (conv, seq, sender, time, client_time, rand, status, content)
          SELECT @conv, i, ${sender}, @t0 + i, @t0 + i, (i * 2654435761) % 4294967296, 2, ${content} FROM c`)
    const CHUNK = 1_000_000
    for (let lo = from + 1; lo <= to; lo += CHUNK) {
      const hi = Math.min(to, lo + CHUNK - 1)
      db.transaction(() => insert.run({ lo, hi, conv: convKey, t0 }))()
      db.pragma('wal_checkpoint(TRUNCATE)')
    }
    if (kind === 'gateway') {
      db.prepare(`INSERT INTO conversations (conv_key, last_seq, last_time) VALUES (?, ?, ?)
        ON CONFLICT (conv_key) DO UPDATE SET last_seq = excluded.last_seq, last_time = excluded.last_time`).run(convKey, to, t0 + to)
    }
  } finally {
    db.close()
  }
  return Number(process.hrtime.bigint() - started) / 1e9
}

if (!isMainThread) {
  const { default: Database } = await import('better-sqlite3')
  parentPort.postMessage(seedFile(workerData, Database))
}
