-- Which recorded Idempotency-Key responses carry which message: a revoke rewrites exactly
-- those, where it scanned every recorded body (24 hours of them) with strpos().
CREATE TABLE idempotency_refs (
  msg_id TEXT COLLATE "C" NOT NULL,
  owner TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (msg_id, owner, key),
  FOREIGN KEY (owner, key) REFERENCES idempotency_keys (owner, key) ON DELETE CASCADE
);

CREATE INDEX idempotency_refs_key ON idempotency_refs (owner, key);

INSERT INTO idempotency_refs (msg_id, owner, key)
SELECT DISTINCT v #>> '{}', k.owner, k.key
FROM idempotency_keys k
  CROSS JOIN LATERAL jsonb_path_query(k.body::jsonb, 'strict $.**.message_msg_id') AS v
WHERE k.body LIKE '%"message_msg_id"%'
ON CONFLICT DO NOTHING;
