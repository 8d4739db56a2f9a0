-- Upload records, when the bytes are in object storage (TIM_S3_BUCKET): every replica
-- finds an upload here, where without a bucket the records are files beside the bytes
-- (<TIM_DATA_DIR>/media/uploads). Written once, read by id (a send checks the owner, a
-- download finds the object). Keyed by the upload alone: a reference table on Citus
-- would cost every upload a write to every node, so it is distributed by id (docs/scaling.md).
CREATE TABLE uploads (
  id TEXT COLLATE "C" PRIMARY KEY,
  owner TEXT COLLATE "C" NOT NULL,
  sha256 TEXT NOT NULL,
  size BIGINT NOT NULL,
  content_type TEXT NOT NULL,
  object_key TEXT NOT NULL,
  created BIGINT NOT NULL
);
