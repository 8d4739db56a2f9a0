-- Every id/url value of a message's media elements (db/store.ts MEDIA_REF_KEYS), so that
-- POST /downloads finds the message that carries a reference. Keyed by the conversation
-- like the messages (a send stays on one shard); the lookup by ref reads across them. A ref
-- is a client's string, which may hold U+0000: it is kept as its UTF-8 bytes. (No message
-- predates this table on PostgreSQL, so there is nothing to backfill.)
CREATE TABLE message_refs (
  conv_key TEXT COLLATE "C" NOT NULL,
  ref BYTEA NOT NULL,
  message_id BIGINT NOT NULL,
  PRIMARY KEY (conv_key, ref, message_id),
  FOREIGN KEY (conv_key, message_id) REFERENCES messages (conv_key, id) ON DELETE CASCADE
);

-- The newest message carrying a ref: one backward range of this index.
CREATE INDEX message_refs_ref ON message_refs (ref, message_id);
-- A revoke erases the message's references with its content.
CREATE INDEX message_refs_message ON message_refs (message_id);
