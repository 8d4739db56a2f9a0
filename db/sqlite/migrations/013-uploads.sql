-- Upload records, when the bytes are in object storage (TIM_S3_BUCKET): every replica
-- finds an upload here, where without a bucket the records are files beside the bytes
-- (<TIM_DATA_DIR>/media/uploads). Written once, read by id (a send checks the owner, a
-- download finds the object).
CREATE TABLE uploads (
  id TEXT NOT NULL PRIMARY KEY,
  owner TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  object_key TEXT NOT NULL,
  created INTEGER NOT NULL
);
