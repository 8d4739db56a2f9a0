-- Webhooks (CONTRACT §8). A webhook that follows the log has a cursor: the last event
-- position copied into its deliveries (the fan-out moves it, in the transaction that
-- writes the deliveries). The before-send hook (at most one) has none: it is called, not fed.
-- types: bit n set for events of type n (1 message, 2 revoke, 3 read receipt).
CREATE TABLE webhooks (
  id TEXT COLLATE "C" PRIMARY KEY,
  url TEXT NOT NULL,
  types INTEGER NOT NULL,
  before_send BOOLEAN NOT NULL DEFAULT false,
  secret TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  cursor BIGINT,
  last_success_at BIGINT,
  last_error TEXT,
  last_error_at BIGINT
);
CREATE UNIQUE INDEX webhooks_one_before_send ON webhooks (before_send) WHERE before_send;

-- What each webhook is owed: one row per event, kept until delivered or dropped (not by the
-- log's retention: the event's fields are copied). In each (webhook, conversation) only the
-- oldest row is due (due_at in ms); the others wait with due_at 9007199254740991 until it
-- leaves, so that a conversation's deliveries keep their order. Replicas claim due rows
-- with FOR UPDATE SKIP LOCKED and a lease (leased_until): an attempt is in flight until then.
CREATE TABLE webhook_deliveries (
  webhook_id TEXT COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  pos BIGINT NOT NULL,
  type SMALLINT NOT NULL,
  conv_key TEXT COLLATE "C" NOT NULL,
  message_id BIGINT,
  actor TEXT COLLATE "C",
  at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  due_at BIGINT NOT NULL,
  leased_until BIGINT NOT NULL DEFAULT 0,
  failing_since BIGINT,
  PRIMARY KEY (webhook_id, pos)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, due_at);
CREATE INDEX webhook_deliveries_conv ON webhook_deliveries (webhook_id, conv_key, pos);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
