-- Every table that holds conversation data leads with conv_key, the distribution column
-- of a sharded PostgreSQL (Citus): a send touches one conversation's rows only.
-- Text keys compare bytewise (COLLATE "C"), as in SQLite.

-- Conversations: one row per shared thread; last_seq is the seq allocator. Every write to
-- a conversation takes this row's lock first, which orders its seqs and its ids.
CREATE TABLE conversations (
  conv_key TEXT COLLATE "C" PRIMARY KEY,
  last_seq BIGINT NOT NULL
);

-- message_unique_id of stored and online (never stored) messages alike; never reused.
CREATE SEQUENCE message_ids AS BIGINT;

CREATE TABLE messages (
  conv_key TEXT COLLATE "C" NOT NULL,
  id BIGINT NOT NULL DEFAULT nextval('message_ids'),
  seq BIGINT NOT NULL,
  sender TEXT COLLATE "C" NOT NULL,
  owner TEXT COLLATE "C",
  server_time BIGINT NOT NULL,
  client_time BIGINT NOT NULL,
  rand BIGINT NOT NULL,
  status INTEGER NOT NULL,
  elem_mask INTEGER NOT NULL,
  -- The client's JSON as given (text, not jsonb: key order and spelling are kept).
  content TEXT NOT NULL,
  PRIMARY KEY (conv_key, id)
);
ALTER SEQUENCE message_ids OWNED BY messages.id;

-- No seq twice in a conversation (saved messages have seq 0).
CREATE UNIQUE INDEX messages_conv_seq ON messages (conv_key, seq) WHERE seq > 0;
-- A page of history: a range of this index, whatever the conversation's size.
CREATE INDEX messages_history ON messages (conv_key, server_time, seq, id);
-- A locator (seq + rand + time): one probe of this index.
CREATE INDEX messages_locator ON messages (conv_key, seq, rand, server_time);
-- Revoke names a message by its unique id alone.
CREATE INDEX messages_id ON messages (id);
