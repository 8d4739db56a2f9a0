-- How a message entered: 0 sent, 1 imported, 2 saved, 3 made by the server (group tips).
ALTER TABLE messages ADD COLUMN origin INTEGER NOT NULL DEFAULT 0;
-- Who revoked it (status 6).
ALTER TABLE messages ADD COLUMN revoker TEXT COLLATE "C";
-- Re-importing the same sender + time + rand finds the stored message.
CREATE UNIQUE INDEX messages_import ON messages (conv_key, sender, server_time, rand) WHERE origin = 1;

-- Groups are keyed by their conversation ('group:' || group_id), so that a membership
-- change and its group-tips message stay on one shard. The name is free text, which may
-- hold U+0000 (PostgreSQL text cannot): it is kept as its UTF-8 bytes.
CREATE TABLE groups (
  conv_key TEXT COLLATE "C" PRIMARY KEY,
  group_id TEXT COLLATE "C" NOT NULL,
  group_name BYTEA NOT NULL,
  owner TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL
);

-- role: 0 member, 1 admin, 2 owner. joined_at (ms) gives the join order.
CREATE TABLE group_members (
  conv_key TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  role INTEGER NOT NULL,
  joined_at BIGINT NOT NULL,
  PRIMARY KEY (conv_key, user_id)
);

-- Each user's read point in a conversation: a position in history order.
CREATE TABLE read_points (
  conv_key TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  server_time BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  id BIGINT NOT NULL,
  PRIMARY KEY (conv_key, user_id)
);

-- Messages a user deleted for itself, one by one.
CREATE TABLE deletions (
  conv_key TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  message_id BIGINT NOT NULL,
  PRIMARY KEY (conv_key, user_id, message_id)
);

-- "Delete all": every message of the conversation up to this id is deleted for the user.
CREATE TABLE clears (
  conv_key TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  up_to_id BIGINT NOT NULL,
  PRIMARY KEY (conv_key, user_id)
);

-- Idempotency-Key: the first response to a (caller, key), replayed for 24 hours. Keyed by
-- the caller, apart from the conversations: a claim is its own transaction.
CREATE TABLE idempotency_keys (
  owner TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  request_hash TEXT NOT NULL,
  status INTEGER,
  body TEXT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (owner, key)
);
