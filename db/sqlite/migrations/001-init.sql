-- Conversations: one row per shared thread; last_seq is the seq allocator.
CREATE TABLE conversations (
  conv_key TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL
) WITHOUT ROWID;

-- Messages of every conversation. id is message_unique_id (AUTOINCREMENT: never reused).
CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  conv_key TEXT NOT NULL,
  seq INTEGER NOT NULL,
  sender TEXT NOT NULL,
  owner TEXT,
  server_time INTEGER NOT NULL,
  client_time INTEGER NOT NULL,
  rand INTEGER NOT NULL,
  status INTEGER NOT NULL,
  elem_mask INTEGER NOT NULL,
  content TEXT NOT NULL
);

-- No seq twice in a conversation (saved messages have seq 0).
CREATE UNIQUE INDEX messages_conv_seq ON messages (conv_key, seq) WHERE seq > 0;
-- A page of history: a range of this index, whatever the conversation's size.
CREATE INDEX messages_history ON messages (conv_key, server_time, seq, id);
-- A locator (seq + rand + time): one probe of this index.
CREATE INDEX messages_locator ON messages (conv_key, seq, rand, server_time);
