-- A conversation's unfinished search block (the one its next messages go into) is kept on
-- its conversations row, as the ids of its messages, until its 16th message: that row is
-- rewritten by every message anyway (its last seq), where the block's own row in
-- search_blocks was one more page per message written (a page per conversation in every
-- group commit: about a third of a send's pages). A full block goes to search_blocks with its
-- filter and entries; a search reads the unfinished ones' messages by id
-- (db/sqlite/search.ts). This moves each conversation's partial block there.
ALTER TABLE conversations ADD COLUMN search_tail TEXT;
ALTER TABLE conversations ADD COLUMN search_tail_block INTEGER;

UPDATE conversations SET search_tail_block = last_seq / 16,
  search_tail = (SELECT json_group_array(json_extract(e.value, '$[0]')) FROM search_blocks b, json_each(b.entries) e
                 WHERE b.conv_key = conversations.conv_key AND b.owner = '' AND b.block = conversations.last_seq / 16)
WHERE EXISTS (SELECT 1 FROM search_blocks b WHERE b.conv_key = conversations.conv_key AND b.owner = '' AND b.block = conversations.last_seq / 16);

DELETE FROM search_blocks WHERE owner = ''
  AND block = (SELECT c.search_tail_block FROM conversations c WHERE c.conv_key = search_blocks.conv_key);
