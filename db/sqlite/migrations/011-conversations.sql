-- The conversation list (CONTRACT §9). Unread counts are kept as running counts, so that
-- a message to a group of 1,000 writes no member's row:
-- * a "countable" message is a shared message that was sent (origin 0): what can be unread.
--   messages.tally is how many countable messages the conversation has up to and including
--   this one by seq (for sent and server-made messages, whose (time, seq) order is seq
--   order, it is also how many lie at or before it in history order); conversations.tally
--   is the conversation's count so far, and active_time its newest server time.
-- * user_conversations: a user's row per conversation. floor is the tally up to which
--   nothing counts for the user any more (its read point, its joining, its last "delete
--   all"); floor_sent how many of those were its own; sent how many countable messages it
--   sent in all. Unread = tally - floor - (sent - floor_sent), less the others' messages
--   after the floor that were revoked or that it deleted (few, each found by an index),
--   less, while its read point lies ahead of the conversation's newest sent message (an
--   import dated ahead), those sent since in [ahead_from, ahead_to) (db/sqlite/conversations.ts).
ALTER TABLE messages ADD COLUMN tally INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN tally INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN active_time INTEGER NOT NULL DEFAULT 0;

-- is_group 0: a C2C thread, listed while `listed` (0 after the user deleted it, until its
-- next message), ordered by its own active_time (a C2C message writes both users' rows).
-- is_group 1: a group while the user is a member, hidden while the group's last_seq is at
-- most hidden_seq (it deleted it), ordered by the greater of active_time (when it joined,
-- its own saved messages) and the group's.
CREATE TABLE user_conversations (
  user_id TEXT NOT NULL,
  conv_key TEXT NOT NULL,
  is_group INTEGER NOT NULL,
  peer TEXT,
  listed INTEGER NOT NULL DEFAULT 1,
  hidden_seq INTEGER,
  pinned INTEGER NOT NULL DEFAULT 0,
  active_time INTEGER NOT NULL DEFAULT 0,
  floor INTEGER NOT NULL DEFAULT 0,
  floor_sent INTEGER NOT NULL DEFAULT 0,
  sent INTEGER NOT NULL DEFAULT 0,
  ahead_from INTEGER NOT NULL DEFAULT 0,
  ahead_to INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, conv_key)
) WITHOUT ROWID;
-- A page of a user's C2C list: one backward range, whatever the number of conversations.
CREATE INDEX user_conversations_c2c ON user_conversations (user_id, pinned, active_time, conv_key) WHERE is_group = 0 AND listed = 1;
-- A user's groups, each joined to its group's head.
CREATE INDEX user_conversations_groups ON user_conversations (user_id, conv_key) WHERE is_group = 1;
-- Revoked countable messages: written by a revoke only.
CREATE INDEX messages_revoked ON messages (conv_key, tally) WHERE status = 6 AND origin = 0 AND owner IS NULL;

-- The data before this migration.
UPDATE messages SET tally = t.tally FROM (
  SELECT id, sum(CASE WHEN origin = 0 THEN 1 ELSE 0 END) OVER (PARTITION BY conv_key ORDER BY seq ROWS UNBOUNDED PRECEDING) AS tally
  FROM messages WHERE owner IS NULL AND seq > 0) AS t
WHERE messages.id = t.id AND t.tally <> 0;
UPDATE conversations SET
  tally = coalesce((SELECT max(m.tally) FROM messages m WHERE m.conv_key = conversations.conv_key AND m.owner IS NULL), 0),
  active_time = coalesce((SELECT max(m.server_time) FROM messages m WHERE m.conv_key = conversations.conv_key AND m.owner IS NULL), 0);

INSERT INTO user_conversations (user_id, conv_key, is_group, peer, active_time)
SELECT gm.user_id, gm.conv_key, 1, NULL, g.created_at FROM group_members gm JOIN groups g ON g.conv_key = gm.conv_key;
INSERT OR IGNORE INTO user_conversations (user_id, conv_key, is_group, peer, active_time)
SELECT user_a, conv_key, 0, user_b, active_time FROM conversations WHERE user_a IS NOT NULL AND last_seq > 0
UNION ALL
SELECT user_b, conv_key, 0, user_a, active_time FROM conversations WHERE user_b IS NOT NULL AND user_b <> user_a AND last_seq > 0;
-- Saved messages: their owner's (C2C keys are 'c2c:<a>\n<b>', see 007).
INSERT INTO user_conversations (user_id, conv_key, is_group, peer, active_time)
SELECT m.owner, m.conv_key, 0,
  CASE WHEN m.owner = substr(m.conv_key, 5, instr(m.conv_key, char(10)) - 5) THEN substr(m.conv_key, instr(m.conv_key, char(10)) + 1)
    ELSE substr(m.conv_key, 5, instr(m.conv_key, char(10)) - 5) END,
  max(m.server_time)
FROM messages m WHERE m.owner IS NOT NULL AND substr(m.conv_key, 1, 4) = 'c2c:' GROUP BY m.owner, m.conv_key
ON CONFLICT (user_id, conv_key) DO UPDATE SET active_time = max(active_time, excluded.active_time);
UPDATE user_conversations SET active_time = max(active_time, s.t) FROM (
  SELECT owner, conv_key, max(server_time) AS t FROM messages WHERE owner IS NOT NULL GROUP BY owner, conv_key) AS s
WHERE s.owner = user_conversations.user_id AND s.conv_key = user_conversations.conv_key AND user_conversations.is_group = 1;

UPDATE user_conversations SET sent = s.n FROM (
  SELECT conv_key, sender, count(*) AS n FROM messages WHERE origin = 0 AND owner IS NULL AND seq > 0 GROUP BY conv_key, sender) AS s
WHERE s.conv_key = user_conversations.conv_key AND s.sender = user_conversations.user_id;
-- The floor: the read point, as a tally (and whether it lies ahead of the newest sent message)...
UPDATE user_conversations SET floor = f.tally,
  ahead_from = CASE WHEN f.server_time > f.last_time THEN f.last_time ELSE 0 END,
  ahead_to = CASE WHEN f.server_time > f.last_time THEN f.server_time ELSE 0 END
FROM (
  SELECT rp.user_id, rp.conv_key, rp.server_time, coalesce(c.last_time, 0) AS last_time,
    coalesce((SELECT m.tally FROM messages m INDEXED BY messages_history WHERE m.conv_key = rp.conv_key
      AND (m.server_time, m.seq, m.id) <= (rp.server_time, rp.seq, rp.id) AND m.owner IS NULL AND m.origin IN (0, 3)
      ORDER BY m.server_time DESC, m.seq DESC, m.id DESC LIMIT 1), 0) AS tally
  FROM read_points rp LEFT JOIN conversations c ON c.conv_key = rp.conv_key) AS f
WHERE f.user_id = user_conversations.user_id AND f.conv_key = user_conversations.conv_key;
-- ...its last "delete all"...
UPDATE user_conversations SET floor = max(floor, coalesce((SELECT max(m.tally) FROM messages m
  WHERE m.conv_key = cl.conv_key AND m.id <= cl.up_to_id AND m.owner IS NULL), 0))
FROM clears cl WHERE cl.user_id = user_conversations.user_id AND cl.conv_key = user_conversations.conv_key;
-- ...and, in a group, its last joining (the newest invite tips naming it).
UPDATE user_conversations SET floor = max(floor, j.tally), active_time = max(active_time, j.t) FROM (
  SELECT m.conv_key, u.value AS user_id, max(m.tally) AS tally, max(m.server_time) AS t
  FROM messages m, json_each(m.content, '$.message_elem_array[0].group_tips_elem_user_array') u
  WHERE m.origin = 3 AND json_extract(m.content, '$.message_elem_array[0].group_tips_elem_tip_type') = 1
  GROUP BY m.conv_key, u.value) AS j
WHERE j.conv_key = user_conversations.conv_key AND j.user_id = user_conversations.user_id AND user_conversations.is_group = 1;
-- floor_sent: its own countable messages up to the floor.
CREATE TEMP TABLE own_runs AS SELECT conv_key, sender, tally,
  row_number() OVER (PARTITION BY conv_key, sender ORDER BY seq) AS n
FROM messages WHERE origin = 0 AND owner IS NULL AND seq > 0;
CREATE INDEX temp.own_runs_at ON own_runs (conv_key, sender, tally);
UPDATE user_conversations SET floor_sent = coalesce((SELECT max(o.n) FROM own_runs o WHERE o.conv_key = user_conversations.conv_key
  AND o.sender = user_conversations.user_id AND o.tally <= user_conversations.floor), 0)
WHERE floor > 0;
DROP TABLE temp.own_runs;
