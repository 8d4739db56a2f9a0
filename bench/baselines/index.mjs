// The baseline servers, one per child process: `node bench/baselines/index.mjs <mode>`. Each
// listens on 127.0.0.1, port 0, sends its port to the driver over IPC, and exits on SIGTERM.
// The modes (one file each beside this one):
//   bare          the ceiling of a Fastify route on this machine (no storage)
//   naive-sqlite  the obvious Fastify + better-sqlite3 server of the same interfaces
//   naive-pg      the obvious Fastify + pg server of send, history, import and batch
//   origin        a file served by node:http
//   proxy         the barest undici pass-through proxy of the origin
// Never part of `npm test`.
import process from 'node:process'

const modes = ['bare', 'naive-sqlite', 'naive-pg', 'origin', 'proxy']
const mode = process.argv[2]
if (!modes.includes(mode)) {
  process.stderr.write(`usage: node bench/baselines/index.mjs ${modes.join('|')}\n`)
  process.exit(2)
}
await (await import(`./${mode}.mjs`)).start()
