-- The store no longer parses conversation keys ("c2c:<a>\n<b>"): a C2C thread's two users
-- are columns of its row (null for a group, whose members are in group_members). This is
-- the last place that reads the old key format: the rows made before.
ALTER TABLE conversations ADD COLUMN user_a TEXT COLLATE "C";
ALTER TABLE conversations ADD COLUMN user_b TEXT COLLATE "C";
UPDATE conversations
SET user_a = split_part(substr(conv_key, 5), chr(10), 1),
    user_b = split_part(substr(conv_key, 5), chr(10), 2)
WHERE left(conv_key, 4) = 'c2c:';
