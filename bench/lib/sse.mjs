// Many SSE streams of the gateway's GET /events at once, for the event scenarios: one
// socket each, a minimal parser (id and event lines, the data's message_msg_id), and what
// each user received.
import { request } from 'node:http'
import { performance } from 'node:perf_hooks'

const MSG_ID = /"message_msg_id":"([^"]+)"/

/**
 * Opens a stream for each of `users` on `base` (UserSigs from `sign`), resolving once all
 * are connected. `onEvent(user, type, id, msgId, at)` is called per event (`at`:
 * performance.now()). Answers `{ close(), cut }`: `cut` counts streams that ended before
 * close() (the gateway cut or ended them).
 */
export async function openStreams ({ base, users, sign, onEvent }) {
  const state = { cut: 0, closing: false }
  const requests = []
  await Promise.all(users.map(user => new Promise((resolve, reject) => {
    const req = request(`${base}/events`, { agent: false, headers: { authorization: `Bearer ${sign(user)}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /events as ${user}: ${res.statusCode}`))
      res.setEncoding('utf8')
      let buffer = ''
      res.on('data', (chunk) => {
        buffer += chunk
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (block.startsWith(':')) continue
          let id, type, msgId
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4)
            else if (line.startsWith('event: ')) type = line.slice(7)
            else if (line.startsWith('data: ')) msgId = MSG_ID.exec(line)?.[1]
          }
          onEvent(user, type, id, msgId, performance.now())
        }
      })
      res.on('close', () => { if (!state.closing) state.cut++ })
      resolve()
    })
    req.on('error', (err) => { if (!state.closing) reject(err) })
    req.end()
    requests.push(req)
  })))
  return {
    get cut () { return state.cut },
    close () {
      state.closing = true
      for (const req of requests) req.destroy()
    },
  }
}
