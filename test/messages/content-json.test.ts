import t from 'tap'
import { build } from '../helper.js'
import { toContent } from '../../src/messages/rules.js'
import { storedClientKeys, type MessageIn } from '../../src/messages/schemas.js'
import { contentJson } from '../../db/rows.js'

// toContent hands the store the text it made from the elements it serialized for the size
// rule: it must be JSON.stringify of the content exactly (a derived import rand hashes it).
const everyKey = () => ({
    message_elem_array: [{ elem_type: 0, text_elem_content: 'quote " backslash \\ 你好 😀 \u2028 \n' }, { elem_type: 6, face_elem_index: 1, face_elem_buf: 'x' }],
    message_priority: 1,
    message_platform: 0,
    message_custom_int: 4294967295,
    message_custom_str: '',
    message_cloud_custom_str: '{"a":1}',
    message_need_read_receipt: true,
    message_support_message_extension: false,
    message_is_excluded_from_unread_count: false,
    message_group_at_user_array: ['__kImSDK_MessageAtALL__', 'bob'],
    message_sender_profile: { user_profile_nick_name: 'Al "the" pal', nested: { deep: [1, null, 2.5, { e: -0.1 }] } },
    message_sender_group_member_info: {},
    message_excluded_from_last_message: true,
    message_excluded_from_content_moderation: false,
    message_disable_cloud_message_pre_hook: false,
    message_disable_cloud_message_post_hook: true,
    message_target_group_member_array: ['a'],
    message_excluded_from_muting: false,
    message_offlie_push_config: { offline_push_config_desc: 'the SDK\'s misspelled key' },
  }) as unknown as MessageIn

t.test('when a message with every stored key is checked, then its stored text is JSON.stringify of its content', async t => {
  const { content } = toContent(everyKey())
  t.same(Object.keys(content).slice(0, 1), ['message_elem_array'])
  t.same(storedClientKeys.filter(k => !(k in content)), [], 'every stored key is there (the push config under its right name, last)')
  t.equal(contentJson(content), JSON.stringify(content))
  t.same(JSON.parse(contentJson(content)), content)
  const plain = toContent({ message_elem_array: [{ elem_type: 0, text_elem_content: 'hi' }] } as MessageIn).content
  t.equal(contentJson(plain), '{"message_elem_array":[{"elem_type":0,"text_elem_content":"hi"}]}')
})

// An import's answer is written from the contents' stored text (messageJson), not by
// JSON.stringify of each view: it must say what the history says of the same messages.
t.test('when messages with every stored key are imported, then the answer is what the history answers of them', async t => {
  const g = await build(t)
  const msgs = [
    { ...everyKey(), message_server_time: 1_700_000_000, message_rand: 7 },
    { message_elem_array: [{ elem_type: 0, text_elem_content: 'plain' }], message_server_time: 1_700_000_001 },
    { message_elem_array: [{ elem_type: 0, text_elem_content: 'from the peer' }], message_sender: 'user2', message_server_time: 1_700_000_002 },
  ]
  const res = await g.call(g.config.adminIdentifier, 'POST', '/conversations/c2c_user2/messages/import', msgs, g.as(g.config.adminIdentifier, 'user1'))
  t.equal(res.statusCode, 200)
  const history = await g.call('user1', 'POST', '/conversations/c2c_user2/messages/query', { msg_getmsglist_param_is_forward: true, msg_getmsglist_param_count: 10 })
  t.strictSame(res.json(), history.json())
  t.equal(res.json()[0].message_sender_profile.user_profile_nick_name, 'Al "the" pal')
})
