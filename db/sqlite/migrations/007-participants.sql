-- The store no longer parses conversation keys ("c2c:<a>\n<b>", "group:<id>"): a C2C
-- thread's two users are columns of its row (null for a group), and groups are keyed by
-- their conversation's key, as on PostgreSQL, so that a group's rows sit with its
-- messages. This is the last place that reads the old key format: the rows made before.
ALTER TABLE conversations ADD COLUMN user_a TEXT;
ALTER TABLE conversations ADD COLUMN user_b TEXT;
UPDATE conversations
SET user_a = substr(conv_key, 5, instr(conv_key, char(10)) - 5),
    user_b = substr(conv_key, instr(conv_key, char(10)) + 1)
WHERE substr(conv_key, 1, 4) = 'c2c:';

CREATE TABLE groups_by_conv (
  conv_key TEXT PRIMARY KEY,
  group_id TEXT NOT NULL,
  group_name TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO groups_by_conv SELECT 'group:' || group_id, group_id, group_name, owner, created_at FROM groups;
DROP TABLE groups;
ALTER TABLE groups_by_conv RENAME TO groups;

-- role: 0 member, 1 admin, 2 owner. joined_at is a per-group counter: the join order.
CREATE TABLE group_members_by_conv (
  conv_key TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role INTEGER NOT NULL,
  joined_at INTEGER NOT NULL,
  PRIMARY KEY (conv_key, user_id)
) WITHOUT ROWID;
INSERT INTO group_members_by_conv SELECT 'group:' || group_id, user_id, role, joined_at FROM group_members;
DROP TABLE group_members;
ALTER TABLE group_members_by_conv RENAME TO group_members;
