-- Every index on messages is written by every send; these two were redundant:
-- * a locator (seq, rand, time) is found through messages_history, whose key starts with
--   (conv_key, server_time, seq): the same single-row lookup;
-- * seqs are unique per conversation because they are handed out by the upsert on
--   conversations inside the insert's write transaction (SQLite serializes those, across
--   processes too), which the tests check end to end.
-- With them, a send touched four index pages; now it touches two.
DROP INDEX messages_locator;
DROP INDEX messages_conv_seq;
