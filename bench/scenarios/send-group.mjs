// send-group: POST /conversations/group_<one of 10 groups>/messages (three members each)
// against the naive server's one INSERT.
import { SEND_BODY } from './common.mjs'

const GROUP_IDS = Array.from({ length: 10 }, (_, i) => `bench-group-${i}`)

export default {
  name: 'send-group',
  groups: ['send'],
  servers: ['naive', 'gateway'],
  baseline: 'naive',
  async prepare (ctx) {
    for (const id of GROUP_IDS) {
      await ctx.call(ctx.servers.gateway, 'POST', '/groups', JSON.stringify({ group_id: id, group_name: id, group_member_array: ['bob', 'carol', 'dave'] }), { expect: 201 })
    }
  },
  plan: { method: 'POST', items: GROUP_IDS.map(id => ({ path: `/conversations/group_${id}/messages`, body: SEND_BODY })) },
}
