-- Webhooks (CONTRACT §8). A webhook that follows the log has a cursor: the last event
-- position copied into its deliveries (the fan-out moves it, in the transaction that
-- writes the deliveries). The before-send hook (at most one) has none: it is called, not fed.
-- types: bit n set for events of type n (1 message, 2 revoke, 3 read receipt).
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  types INTEGER NOT NULL,
  before_send INTEGER NOT NULL DEFAULT 0,
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  cursor INTEGER,
  last_success_at INTEGER,
  last_error TEXT,
  last_error_at INTEGER
);
CREATE UNIQUE INDEX webhooks_one_before_send ON webhooks (before_send) WHERE before_send = 1;

-- What each webhook is owed: one row per event, kept until delivered or dropped (not by the
-- log's retention: the event's fields are copied). In each (webhook, conversation) only the
-- oldest row is due (due_at in ms); the others wait with due_at 9007199254740991 until it
-- leaves, so that a conversation's deliveries keep their order. leased_until: an attempt
-- is in flight until then.
CREATE TABLE webhook_deliveries (
  webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  pos INTEGER NOT NULL,
  type INTEGER NOT NULL,
  conv_key TEXT NOT NULL,
  message_id INTEGER,
  actor TEXT,
  at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER NOT NULL,
  leased_until INTEGER NOT NULL DEFAULT 0,
  failing_since INTEGER,
  PRIMARY KEY (webhook_id, pos)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, due_at);
CREATE INDEX webhook_deliveries_conv ON webhook_deliveries (webhook_id, conv_key, pos);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
