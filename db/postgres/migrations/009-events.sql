-- The event log (CONTRACT §8): one row per change that clients hear about, written in the
-- same transaction as the change. A sequence hands out ids in allocation order, not commit
-- order, so rows are written without a position, with the writing transaction's id (tx);
-- a numberer (db/postgres/events.ts, under an advisory lock, one replica at a time) gives
-- positions to committed rows, in (tx, id) order: a position, once seen, is never followed
-- by a lower one. type: 1 message,
-- 2 revoke, 3 read receipt, 9 membership (internal). Not distributed on Citus: the log is
-- one order for the whole app (see the docs' distribution design).
CREATE TABLE events (
  id BIGSERIAL PRIMARY KEY,
  tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
  pos BIGINT UNIQUE,
  type SMALLINT NOT NULL,
  conv_key TEXT COLLATE "C" NOT NULL,
  message_id BIGINT,
  actor TEXT COLLATE "C",
  role SMALLINT,
  at BIGINT NOT NULL
);
-- What the numberer has left to do.
CREATE INDEX events_unnumbered ON events (tx, id) WHERE pos IS NULL;
CREATE INDEX events_at ON events (at);

-- The last position handed out (one row): the numberer's counter.
CREATE TABLE event_positions (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last BIGINT NOT NULL
);
INSERT INTO event_positions VALUES (1, 0);

-- Who was a member of a group from which event to which (events.id; both inclusive;
-- to_event null: still a member).
CREATE TABLE group_member_history (
  conv_key TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  from_event BIGINT NOT NULL,
  to_event BIGINT,
  PRIMARY KEY (conv_key, user_id, from_event)
);
CREATE INDEX group_member_history_user ON group_member_history (user_id, conv_key);

-- The members of today, as from the start.
INSERT INTO events (type, conv_key, actor, role, at)
SELECT 9, conv_key, user_id, role, extract(epoch FROM now())::bigint FROM group_members ORDER BY conv_key, joined_at;
INSERT INTO group_member_history (conv_key, user_id, from_event)
SELECT conv_key, actor, id FROM events WHERE type = 9;
