-- A search block's entries are compressed when written (012: toast_tuple_target), with
-- pglz by default: for an import of 1000 (63 blocks) that was a quarter of PostgreSQL's
-- work on it. lz4 compresses such text about as well at a fraction of the cost, where the
-- server has it (PostgreSQL 14 and later, built with lz4, as Debian's and the official
-- images are); elsewhere nothing changes. Rows written before keep their pglz until
-- rewritten: both read alike.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
    ALTER TABLE search_blocks ALTER COLUMN entries SET COMPRESSION lz4;
  END IF;
END $$;
