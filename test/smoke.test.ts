import t from 'tap'
import { build, text } from './helper.js'

t.test('when user1 sends to c2c_user2, then user2 lists it', async t => {
  const { call } = await build(t)
  const sent = await call('user1', 'POST', '/conversations/c2c_user2/messages', text('hi'))
  t.equal(sent.statusCode, 200)
  const list = await call('user2', 'GET', '/conversations/c2c_user1/messages')
  t.equal(list.json()[0].message_msg_id, sent.json().message_msg_id)
})
