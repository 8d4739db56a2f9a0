-- The last sent time of a conversation before the statement that wrote it last: a group of
-- sends stored in one statement (insert_shared, db/postgres/messages.ts) gives its
-- messages times from the time before it, which RETURNING cannot show otherwise. Read only
-- by the statement that sets it.
ALTER TABLE conversations ADD COLUMN prev_time BIGINT NOT NULL DEFAULT 0;
