-- The newest server time given to a message sent into the conversation: a send
-- never gets an earlier time than the one committed before it, so history order
-- (server_time, seq) agrees with commit order for everything that is sent.
ALTER TABLE conversations ADD COLUMN last_time BIGINT NOT NULL DEFAULT 0;
UPDATE conversations c SET last_time = coalesce((SELECT max(server_time) FROM messages m
  WHERE m.conv_key = c.conv_key AND m.owner IS NULL AND m.origin IN (0, 3)), 0);
-- Expired Idempotency-Keys are swept by age.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
