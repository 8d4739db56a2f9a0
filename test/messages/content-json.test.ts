import t from 'tap'
import { toContent } from '../../src/messages/rules.js'
import { storedClientKeys, type MessageIn } from '../../src/messages/schemas.js'
import { contentJson } from '../../db/rows.js'

// toContent hands the store the text it made from the elements it serialized for the size
// rule: it must be JSON.stringify of the content exactly (a derived import rand hashes it).
t.test('when a message with every stored key is checked, then its stored text is JSON.stringify of its content', async t => {
  const msg = {
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
  } as unknown as MessageIn
  const { content } = toContent(msg)
  t.same(Object.keys(content).slice(0, 1), ['message_elem_array'])
  t.same(storedClientKeys.filter(k => !(k in content)), [], 'every stored key is there (the push config under its right name, last)')
  t.equal(contentJson(content), JSON.stringify(content))
  t.same(JSON.parse(contentJson(content)), content)
  const plain = toContent({ message_elem_array: [{ elem_type: 0, text_elem_content: 'hi' }] } as MessageIn).content
  t.equal(contentJson(plain), '{"message_elem_array":[{"elem_type":0,"text_elem_content":"hi"}]}')
})
