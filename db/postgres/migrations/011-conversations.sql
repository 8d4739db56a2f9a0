-- The conversation list (CONTRACT §9), as on SQLite (see its 011 for what each count
-- means): running tallies of countable (sent, shared) messages per conversation, and a row
-- per user and conversation that a C2C message updates for its two users and a group
-- message only for its sender. user_conversations leads with user_id: on a sharded
-- PostgreSQL it is distributed by user (a list page stays on one shard), and a C2C send
-- writes two such rows besides its conversation's.
ALTER TABLE messages ADD COLUMN tally BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN tally BIGINT NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN active_time BIGINT NOT NULL DEFAULT 0;

CREATE TABLE user_conversations (
  user_id TEXT COLLATE "C" NOT NULL,
  conv_key TEXT COLLATE "C" NOT NULL,
  is_group BOOLEAN NOT NULL,
  peer TEXT COLLATE "C",
  listed BOOLEAN NOT NULL DEFAULT true,
  hidden_seq BIGINT,
  pinned SMALLINT NOT NULL DEFAULT 0,
  active_time BIGINT NOT NULL DEFAULT 0,
  floor BIGINT NOT NULL DEFAULT 0,
  floor_sent BIGINT NOT NULL DEFAULT 0,
  sent BIGINT NOT NULL DEFAULT 0,
  ahead_from BIGINT NOT NULL DEFAULT 0,
  ahead_to BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, conv_key)
);
CREATE INDEX user_conversations_c2c ON user_conversations (user_id, pinned, active_time, conv_key) WHERE NOT is_group AND listed;
CREATE INDEX user_conversations_groups ON user_conversations (user_id, conv_key) WHERE is_group;
CREATE INDEX messages_revoked ON messages (conv_key, tally) WHERE status = 6 AND origin = 0 AND owner IS NULL;

-- The data before this migration.
UPDATE messages m SET tally = t.tally FROM (
  SELECT conv_key, id, sum(CASE WHEN origin = 0 THEN 1 ELSE 0 END) OVER (PARTITION BY conv_key ORDER BY seq ROWS UNBOUNDED PRECEDING) AS tally
  FROM messages WHERE owner IS NULL AND seq > 0) AS t
WHERE m.conv_key = t.conv_key AND m.id = t.id AND t.tally <> 0;
UPDATE conversations c SET tally = x.tally, active_time = x.t FROM (
  SELECT conv_key, max(tally) AS tally, max(server_time) AS t FROM messages WHERE owner IS NULL GROUP BY conv_key) AS x
WHERE x.conv_key = c.conv_key;

INSERT INTO user_conversations (user_id, conv_key, is_group, active_time)
SELECT gm.user_id, gm.conv_key, true, g.created_at FROM group_members gm JOIN groups g ON g.conv_key = gm.conv_key;
INSERT INTO user_conversations (user_id, conv_key, is_group, peer, active_time)
SELECT user_a, conv_key, false, user_b, active_time FROM conversations WHERE user_a IS NOT NULL AND last_seq > 0
UNION ALL
SELECT user_b, conv_key, false, user_a, active_time FROM conversations WHERE user_b IS NOT NULL AND user_b <> user_a AND last_seq > 0
ON CONFLICT DO NOTHING;
-- Saved messages: their owner's.
INSERT INTO user_conversations (user_id, conv_key, is_group, peer, active_time)
SELECT m.owner, m.conv_key, false, CASE WHEN m.owner = c.user_a THEN c.user_b ELSE c.user_a END, max(m.server_time)
FROM messages m JOIN conversations c ON c.conv_key = m.conv_key
WHERE m.owner IS NOT NULL AND c.user_a IS NOT NULL GROUP BY m.owner, m.conv_key, c.user_a, c.user_b
ON CONFLICT (user_id, conv_key) DO UPDATE SET active_time = greatest(user_conversations.active_time, excluded.active_time);
UPDATE user_conversations u SET active_time = greatest(u.active_time, s.t) FROM (
  SELECT owner, conv_key, max(server_time) AS t FROM messages WHERE owner IS NOT NULL GROUP BY owner, conv_key) AS s
WHERE s.owner = u.user_id AND s.conv_key = u.conv_key AND u.is_group;

UPDATE user_conversations u SET sent = s.n FROM (
  SELECT conv_key, sender, count(*) AS n FROM messages WHERE origin = 0 AND owner IS NULL AND seq > 0 GROUP BY conv_key, sender) AS s
WHERE s.conv_key = u.conv_key AND s.sender = u.user_id;
-- The floor: the read point as a tally (and whether it lies ahead of the newest sent message)...
UPDATE user_conversations u SET floor = f.tally,
  ahead_from = CASE WHEN f.server_time > f.last_time THEN f.last_time ELSE 0 END,
  ahead_to = CASE WHEN f.server_time > f.last_time THEN f.server_time ELSE 0 END
FROM (
  SELECT rp.user_id, rp.conv_key, rp.server_time, coalesce(c.last_time, 0) AS last_time,
    coalesce((SELECT m.tally FROM messages m WHERE m.conv_key = rp.conv_key
      AND (m.server_time, m.seq, m.id) <= (rp.server_time, rp.seq, rp.id) AND m.owner IS NULL AND m.origin IN (0, 3)
      ORDER BY m.server_time DESC, m.seq DESC, m.id DESC LIMIT 1), 0) AS tally
  FROM read_points rp LEFT JOIN conversations c ON c.conv_key = rp.conv_key) AS f
WHERE f.user_id = u.user_id AND f.conv_key = u.conv_key;
-- ...its last "delete all"...
UPDATE user_conversations u SET floor = greatest(u.floor, coalesce((SELECT max(m.tally) FROM messages m
  WHERE m.conv_key = cl.conv_key AND m.id <= cl.up_to_id AND m.owner IS NULL), 0))
FROM clears cl WHERE cl.user_id = u.user_id AND cl.conv_key = u.conv_key;
-- ...and, in a group, its last joining (the newest invite tips naming it).
UPDATE user_conversations u SET floor = greatest(u.floor, j.tally), active_time = greatest(u.active_time, j.t) FROM (
  SELECT m.conv_key, x.user_id, max(m.tally) AS tally, max(m.server_time) AS t
  FROM messages m CROSS JOIN LATERAL jsonb_array_elements_text(CASE
    WHEN jsonb_typeof(m.content::jsonb #> '{message_elem_array,0,group_tips_elem_user_array}') = 'array'
    THEN m.content::jsonb #> '{message_elem_array,0,group_tips_elem_user_array}' ELSE '[]'::jsonb END) AS x(user_id)
  WHERE m.origin = 3 AND (m.content::jsonb #>> '{message_elem_array,0,group_tips_elem_tip_type}') = '1'
  GROUP BY m.conv_key, x.user_id) AS j
WHERE j.conv_key = u.conv_key AND j.user_id = u.user_id AND u.is_group;
-- floor_sent: its own countable messages up to the floor.
CREATE TEMP TABLE own_runs ON COMMIT DROP AS SELECT conv_key, sender, tally,
  row_number() OVER (PARTITION BY conv_key, sender ORDER BY seq) AS n
FROM messages WHERE origin = 0 AND owner IS NULL AND seq > 0;
CREATE INDEX ON own_runs (conv_key, sender, tally);
UPDATE user_conversations u SET floor_sent = coalesce((SELECT max(o.n) FROM own_runs o WHERE o.conv_key = u.conv_key
  AND o.sender = u.user_id AND o.tally <= u.floor), 0)
WHERE u.floor > 0;
