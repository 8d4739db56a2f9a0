// revoke: POST /conversations/c2c_<peer>/revoke of a distinct message per request, against
// the naive server's one UPDATE. The messages are sent by batch sends just before each run
// (inside the sender's default 120 s revoke window): 5000 for the warm-up; for the measured
// run 3× what the warm-up's rate needs (the warm-up is slower than the run), at least 20000.
// A run that runs out of them is INVALID.
import { batchBody, textMessage, users } from './common.mjs'

const RECIPIENTS = users('rv', 500, 3)

/** `count` messages sent to revoke on `server`; a plan that walks them in random order. */
async function messagesToRevoke (ctx, server, count) {
  const started = Date.now()
  const body = batchBody(RECIPIENTS, textMessage('to be revoked'))
  const answers = await ctx.mapLimit(Array.from({ length: Math.ceil(count / RECIPIENTS.length) }), 4, () => ctx.call(server, 'POST', '/messages/batch', body))
  const items = answers.flat().map(r => ({
    path: `/conversations/c2c_${r.msg_batch_send_result_identifier}/revoke`,
    body: JSON.stringify({ message_msg_id: r.msg_batch_send_result_msg.message_msg_id }),
  }))
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  ctx.log(`    (${server.name}: ${items.length} messages sent to revoke in ${((Date.now() - started) / 1000).toFixed(1)} s)`)
  return { method: 'POST', mode: 'walk', items }
}

export default {
  name: 'revoke',
  servers: ['naive', 'gateway'],
  baseline: 'naive',
  plan: (ctx, { server, phase, warm }) => messagesToRevoke(ctx, server, phase === 'warmup'
    ? 5000
    : Math.min(1_000_000, Math.max(20_000, Math.ceil((warm.requests / (warm.duration_us / 1e6)) * ctx.knobs.duration * 3)))),
}
