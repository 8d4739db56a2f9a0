-- The event log (CONTRACT §8): one row per change that clients hear about, written in the
-- same transaction as the change. Its id is the position readers see: SQLite has one
-- writer, so ids increase in commit order. type: 1 message, 2 revoke, 3 read receipt,
-- 9 membership (internal: who is in a group from which position; never sent).
CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type INTEGER NOT NULL,
  conv_key TEXT NOT NULL,
  message_id INTEGER,
  -- read receipt: the reader; membership: the user whose membership changed.
  actor TEXT,
  -- membership: the user's role from here on, null when it left.
  role INTEGER,
  at INTEGER NOT NULL
);
-- Retention sweeps by time.
CREATE INDEX events_at ON events (at);

-- Who was a member of a group from which event to which (both inclusive; to_event null: still
-- a member), so that a replay answers "was a member when it committed".
CREATE TABLE group_member_history (
  conv_key TEXT NOT NULL,
  user_id TEXT NOT NULL,
  from_event INTEGER NOT NULL,
  to_event INTEGER,
  PRIMARY KEY (conv_key, user_id, from_event)
) WITHOUT ROWID;
CREATE INDEX group_member_history_user ON group_member_history (user_id, conv_key);

-- The members of today, as from the start: a log that begins now knows them.
INSERT INTO events (type, conv_key, actor, role, at)
SELECT 9, conv_key, user_id, role, CAST(strftime('%s', 'now') AS INTEGER) FROM group_members ORDER BY conv_key, joined_at;
INSERT INTO group_member_history (conv_key, user_id, from_event)
SELECT conv_key, actor, id FROM events WHERE type = 9;
