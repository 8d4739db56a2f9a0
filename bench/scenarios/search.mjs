// search-<size>: POST /messages/search with 1-, 2- and 3+-character keywords, Latin and CJK,
// across all of the searcher's conversations and inside one, beside a history page, at each
// of BENCH_SEARCH_SIZES messages (default 100k,1m) among BENCH_SEARCH_USERS users (10k).
// The searcher (SENDER) is in 1000 C2C conversations of 20 messages each (20k messages: its
// share stays the same at every size); the rest of the history is other users' (1000-message
// conversations between other pairs), so most of the index is not the searcher's. Seeded
// through the gateway's own import (the admin imports each conversation, 1000 messages a
// request, one at a time as the admin's imports must be), so the index is what the write path builds. Target: the p50 time of each
// search at the largest size ≤ 2× that at the smallest (it must not grow with the history);
// the figures in µs (p50 of sequential requests) are printed beside a history page's.
import { performance } from 'node:perf_hooks'
import { sizeLabel } from '../lib/format.mjs'
import { SENDER, users } from './common.mjs'

const ADMIN = 'administrator'
const MINE = 1000
const MINE_EACH = 20
const OTHERS_EACH = 1000
const P50_RATIO = 2
const SAMPLES = 60
const WORDS = ['apple', 'banana', 'cherry', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima',
  '大家', '你好', '世界', '消息', '测试', '今天', '天气', '朋友', '北京', '上海', '晚饭', '工作']

/** A deterministic text of 6 words from message number n. */
const textOf = (n) => Array.from({ length: 6 }, (_, k) => WORDS[(n * 7 + k * 13 + (n >> 3)) % WORDS.length]).join(' ') + ` #${n}`

/** What is measured: [name, keyword] pairs, each across all conversations and in one. */
const KEYWORDS = [['latin-1', 'k'], ['latin-2', 'ki'], ['latin-5', 'hotel'], ['cjk-1', '好'], ['cjk-2', '你好'], ['cjk-3', '大家你']]

const importBody = (from, count, sender, peer) => JSON.stringify(Array.from({ length: count }, (_, i) => ({
  message_sender: i % 2 === 0 ? sender : peer,
  message_server_time: 1_700_000_000 + from + i,
  message_rand: from + i,
  message_elem_array: [{ elem_type: 0, text_elem_content: textOf(from + i) }],
})))

const scenario = {
  name: 'search',
  groups: ['search'],
  servers: [],
  async run (ctx) {
    const sizes = ctx.knobs.searchSizes
    const nUsers = ctx.knobs.searchUsers
    const people = users('u', nUsers, 5)
    const gateway = await ctx.startGateway('search-gateway', { as: 'gateway' })
    const admin = { authorization: `Bearer ${ctx.sign(ADMIN)}`, 'content-type': 'application/json' }
    const imp = (owner, peer, body) => ctx.call(gateway, 'POST', `/conversations/c2c_${encodeURIComponent(peer)}/messages/import`, body,
      { headers: { ...admin, 'x-tim-on-behalf-of': owner } })
    // The searcher's 1000 conversations first: the same at every size.
    const mine = people.slice(0, Math.min(MINE, nUsers))
    await ctx.mapLimit(mine, 1, (peer, i) => imp(SENDER, peer, importBody(i * MINE_EACH, MINE_EACH, SENDER, peer)))
    let have = mine.length * MINE_EACH
    let pair = 0
    const results = []
    for (const size of sizes) {
      // Others' conversations: pairs of users not the searcher, 1000 messages each.
      const jobs = []
      while (have + jobs.length * OTHERS_EACH < size) {
        const a = people[pair % nUsers]
        const b = people[(pair * 7919 + 1 + Math.floor(pair / nUsers)) % nUsers]
        pair++
        if (a !== b) jobs.push([a, b])
      }
      const started = Date.now()
      await ctx.mapLimit(jobs, 1, ([a, b], i) => imp(a, b, importBody(1_000_000 + have + i * OTHERS_EACH, OTHERS_EACH, a, b)))
      have += jobs.length * OTHERS_EACH
      ctx.log(`  search: ${sizeLabel(have)} messages stored (+${jobs.length} conversations in ${((Date.now() - started) / 1000).toFixed(1)} s)`)
      const label = `search-${sizeLabel(size)}`
      const timed = async (name, method, path, body) => {
        const times = []
        for (let i = 0; i < SAMPLES; i++) {
          const t0 = performance.now()
          await ctx.call(gateway, method, path, body)
          times.push((performance.now() - t0) * 1000)
        }
        times.sort((x, y) => x - y)
        return { name, p50: times[Math.floor(times.length / 2)] }
      }
      const row = { size: have, figures: [] }
      row.figures.push(await timed('history page', 'GET', `/conversations/c2c_${mine[0]}/messages?count=20`))
      for (const [name, keyword] of KEYWORDS) {
        row.figures.push(await timed(`all ${name}`, 'POST', '/messages/search', JSON.stringify({ msg_search_param_keyword_array: [keyword] })))
        row.figures.push(await timed(`one ${name}`, 'POST', '/messages/search', JSON.stringify({
          msg_search_param_keyword_array: [keyword], msg_search_param_conv_id: mine[0], msg_search_param_conv_type: 1,
        })))
      }
      ctx.log(`  ${label}: ${row.figures.map(f => `${f.name} ${Math.round(f.p50)} µs`).join(', ')}`)
      results.push(row)
    }
    ctx.output.search = results
    if (results.length < 2) return
    const [small, large] = [results[0], results.at(-1)]
    for (const [i, f] of large.figures.entries()) {
      const ratio = f.p50 / small.figures[i].p50
      ctx.derive({
        name: `search ${f.name} ${sizeLabel(large.size)}/${sizeLabel(small.size)}`,
        server: 'gateway',
        value: ratio,
        shown: `${ratio.toFixed(2)}× p50 (${Math.round(small.figures[i].p50)} → ${Math.round(f.p50)} µs)`,
        ...(f.name !== 'history page' && { target: `≤ ${P50_RATIO}×`, met: ratio <= P50_RATIO }),
        valid: true,
      })
    }
  },
}

export default scenario
