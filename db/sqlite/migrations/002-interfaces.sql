-- How a message entered: 0 sent, 1 imported, 2 saved, 3 made by the server (group tips).
ALTER TABLE messages ADD COLUMN origin INTEGER NOT NULL DEFAULT 0;
-- Who revoked it (status 6).
ALTER TABLE messages ADD COLUMN revoker TEXT;
-- Re-importing the same sender + time + rand finds the stored message.
CREATE UNIQUE INDEX messages_import ON messages (conv_key, sender, server_time, rand) WHERE origin = 1;

CREATE TABLE groups (
  group_id TEXT PRIMARY KEY,
  group_name TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- role: 0 member, 1 admin, 2 owner.
CREATE TABLE group_members (
  group_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role INTEGER NOT NULL,
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;

-- Each user's read point in a conversation: a position in history order.
CREATE TABLE read_points (
  conv_key TEXT NOT NULL,
  user_id TEXT NOT NULL,
  server_time INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  id INTEGER NOT NULL,
  PRIMARY KEY (conv_key, user_id)
) WITHOUT ROWID;

-- Messages a user deleted for itself, one by one.
CREATE TABLE deletions (
  conv_key TEXT NOT NULL,
  user_id TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  PRIMARY KEY (conv_key, user_id, message_id)
) WITHOUT ROWID;

-- "Delete all": every message of the conversation up to this id is deleted for the user.
CREATE TABLE clears (
  conv_key TEXT NOT NULL,
  user_id TEXT NOT NULL,
  up_to_id INTEGER NOT NULL,
  PRIMARY KEY (conv_key, user_id)
) WITHOUT ROWID;

-- Idempotency-Key: the first response to a (caller, key), replayed for 24 hours.
CREATE TABLE idempotency_keys (
  owner TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER,
  body TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (owner, key)
) WITHOUT ROWID;
