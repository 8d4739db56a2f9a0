-- Which recorded Idempotency-Key responses carry which message: a revoke rewrites exactly
-- those, where it scanned every recorded body (24 hours of them) with instr().
CREATE TABLE idempotency_refs (
  msg_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (msg_id, owner, key),
  FOREIGN KEY (owner, key) REFERENCES idempotency_keys (owner, key) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX idempotency_refs_key ON idempotency_refs (owner, key);

INSERT OR IGNORE INTO idempotency_refs (msg_id, owner, key)
SELECT j.value, k.owner, k.key
FROM idempotency_keys k, json_tree(k.body) j
WHERE k.body LIKE '%"message_msg_id"%' AND json_valid(k.body)
  AND j.key = 'message_msg_id' AND j.type = 'text';
