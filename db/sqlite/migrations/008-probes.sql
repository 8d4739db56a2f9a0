-- One row that GET /health rewrites while the storage is known to be full: a small real
-- write that succeeds again once there is room (src/plugins/conditions.ts).
CREATE TABLE probes (
  id INTEGER PRIMARY KEY,
  at BIGINT NOT NULL
);
