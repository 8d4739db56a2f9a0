-- Every id/url value of a message's media elements (db/store.ts MEDIA_REF_KEYS), so that
-- POST /downloads finds the message that carries a reference with one index probe.
CREATE TABLE message_refs (
  ref TEXT NOT NULL,
  conv_key TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  PRIMARY KEY (ref, conv_key, message_id)
) WITHOUT ROWID;

-- A revoke erases the message's references with its content.
CREATE INDEX message_refs_message ON message_refs (message_id);

-- Messages stored before this migration.
WITH keys (key) AS (VALUES
  ('image_elem_orig_id'), ('image_elem_orig_url'), ('image_elem_large_id'), ('image_elem_large_url'),
  ('image_elem_thumb_id'), ('image_elem_thumb_url'), ('sound_elem_file_id'), ('sound_elem_url'),
  ('file_elem_file_id'), ('file_elem_url'), ('video_elem_video_id'), ('video_elem_video_url'),
  ('video_elem_image_id'), ('video_elem_image_url'))
INSERT OR IGNORE INTO message_refs (ref, conv_key, message_id)
SELECT json_extract(e.value, '$.' || k.key), m.conv_key, m.id
FROM messages m, json_each(m.content, '$.message_elem_array') e, keys k
WHERE m.status <> 6
  AND json_type(e.value, '$.' || k.key) = 'text'
  AND json_extract(e.value, '$.' || k.key) <> '';
