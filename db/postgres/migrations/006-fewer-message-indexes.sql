-- The indexes SQLite dropped in its 005, dropped here too (the two stores keep the same
-- schema), and one more. Every index on messages is written by every send:
-- * a locator (seq, rand, time) is found through messages_history, whose key starts with
--   (conv_key, server_time, seq): the same single-row lookup;
-- * seqs are unique per conversation because they are handed out under the lock of the
--   conversation's row inside the inserting transaction (db/postgres/messages.ts), which
--   the store contract suite and the crash test check end to end;
-- * messages_id served revoke by id alone: revoke now names the conversation, and the
--   primary key (conv_key, id) finds the row.
-- (From here on a migration has the same number and name on both stores.)
DROP INDEX messages_locator;
DROP INDEX messages_conv_seq;
DROP INDEX messages_id;
