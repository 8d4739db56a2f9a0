-- The search index (CONTRACT §10, docs/search.md), as on SQLite: each conversation's
-- messages in blocks of 16 (a shared message's block is (seq - 1) / 16; a saved message's,
-- its owner's count of saved messages there), and per block a Bloom filter of the unigrams
-- and bigrams of their text (bit(4096): tested with & in the query, merged with | by a
-- write) and the entries themselves (JSON [id, server_time, seq, sender, elem_mask,
-- [texts]], texts in lower case). owner is '' for the shared messages, else the saved
-- messages' owner. Keyed by the conversation like the messages (a write stays on its
-- shard), so that a search reads the caller's blocks only. Written in the transaction of
-- every message (db/postgres/search.ts); a revoke takes the entry out and makes the filter
-- again under the block's row lock. The existing history is indexed by this migration's
-- step in code (db/postgres/pg-store.ts).
CREATE TABLE search_blocks (
  conv_key TEXT COLLATE "C" NOT NULL,
  owner TEXT COLLATE "C" NOT NULL,
  block BIGINT NOT NULL,
  bloom BIT(4096) NOT NULL,
  entries TEXT NOT NULL,
  PRIMARY KEY (conv_key, owner, block)
) WITH (toast_tuple_target = 128);
-- toast_tuple_target: a block row (about 2 KB, its entries repetitive JSON) is compressed
-- when written, which halves what a write puts in the WAL.

-- How many messages each user saved in each conversation: the blocks of its saved ones,
-- and the conversations where it has some.
CREATE TABLE search_saved (
  owner TEXT COLLATE "C" NOT NULL,
  conv_key TEXT COLLATE "C" NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (owner, conv_key)
);

-- The conversations a user sees now: its C2C threads, its groups.
CREATE INDEX conversations_user_a ON conversations (user_a);
CREATE INDEX conversations_user_b ON conversations (user_b);
CREATE INDEX group_members_user ON group_members (user_id);
