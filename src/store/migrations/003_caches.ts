/**
 * Keyed caches (`caches: [{ key, paths, restoreKeys }]`): one row per key and
 * path, pointing at a tar blob in the content-addressed area. Entries are
 * immutable (the first save of a key wins), found by exact key or by key
 * prefix (newest first), and deleted by `gc` with the runs of their age.
 */
import type { Migration } from "./index.js";

const sql = `
CREATE TABLE caches (
  key TEXT NOT NULL,
  path TEXT NOT NULL,
  hash TEXT NOT NULL,
  size BIGINT NOT NULL,
  run_id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (key, path)
);
CREATE INDEX caches_created ON caches (created_at DESC);
CREATE INDEX caches_hash ON caches (hash);
`;

export const migration003: Migration = { version: 3, name: "caches", sqlite: sql, postgres: sql };
