-- The search index (CONTRACT §10, docs/search.md): each conversation's messages in blocks of
-- 16 (a shared message's block is (seq - 1) / 16; a saved message's, its owner's count of
-- saved messages there), and per block a Bloom filter of the unigrams and bigrams of their
-- text, then the entries themselves (JSON [id, server_time, seq, sender, elem_mask, [texts]],
-- texts in lower case). owner is '' for the shared messages, else the saved messages' owner:
-- the conversation and the owner lead the key, so that a search reads the caller's blocks
-- only. A revoke takes the message's entry out and makes its block's filter again; written
-- in the same transaction as every message (db/sqlite/search.ts). The existing history is
-- indexed by this migration's step in code (db/sqlite/sqlite-store.ts).
-- A rowid table: a block row (about 2 KB) fits in its page there, where a WITHOUT ROWID
-- table would spill it into overflow pages at every write.
CREATE TABLE search_blocks (
  conv_key TEXT NOT NULL,
  owner TEXT NOT NULL,
  block INTEGER NOT NULL,
  bloom BLOB NOT NULL,
  entries TEXT NOT NULL
);
CREATE UNIQUE INDEX search_blocks_key ON search_blocks (conv_key, owner, block);

-- How many messages each user saved in each conversation: the blocks of its saved ones,
-- and the conversations where it has some.
CREATE TABLE search_saved (
  owner TEXT NOT NULL,
  conv_key TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (owner, conv_key)
) WITHOUT ROWID;

-- The conversations a user sees now: its C2C threads, its groups.
CREATE INDEX conversations_user_a ON conversations (user_a);
CREATE INDEX conversations_user_b ON conversations (user_b);
CREATE INDEX group_members_user ON group_members (user_id);
