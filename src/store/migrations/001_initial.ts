/**
 * The first schema: runs, jobs, steps, log chunks, artifacts, plans, bundles.
 * One SQL text for both dialects: only types both understand (TEXT, BIGINT,
 * INTEGER), times as epoch milliseconds, JSON as TEXT, no auto-increment.
 */
import type { Migration } from "./index.js";

const sql = `
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  file TEXT NOT NULL,
  trigger TEXT NOT NULL,
  status TEXT NOT NULL,
  plan_hash TEXT,
  parent_run_id TEXT,
  started_at BIGINT NOT NULL,
  finished_at BIGINT,
  duration_ms BIGINT,
  owner_pid INTEGER,
  owner_host TEXT,
  owner_boot TEXT,
  owner_started TEXT
);
CREATE INDEX runs_started ON runs (started_at DESC);
CREATE INDEX runs_workflow_started ON runs (workflow, started_at DESC);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE jobs (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id TEXT NOT NULL,
  key TEXT NOT NULL,
  name TEXT NOT NULL,
  position INTEGER NOT NULL,
  matrix TEXT NOT NULL,
  needs TEXT NOT NULL,
  executor TEXT,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  job_hash TEXT,
  inputs_hash TEXT,
  env_hash TEXT,
  outputs TEXT NOT NULL,
  reason TEXT,
  started_at BIGINT,
  finished_at BIGINT,
  duration_ms BIGINT,
  PRIMARY KEY (run_id, job_id)
);
CREATE INDEX jobs_cache ON jobs (job_hash, inputs_hash, env_hash, status);

CREATE TABLE steps (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id TEXT NOT NULL,
  step_index INTEGER NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  exit_code INTEGER,
  reason TEXT,
  started_at BIGINT,
  finished_at BIGINT,
  duration_ms BIGINT,
  PRIMARY KEY (run_id, job_id, step_index)
);

CREATE TABLE log_chunks (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  step_index INTEGER,
  ts_first BIGINT NOT NULL,
  line_count INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  lines TEXT NOT NULL,
  PRIMARY KEY (run_id, job_id, seq)
);

CREATE TABLE artifacts (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id TEXT NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL,
  size BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (run_id, job_id, name)
);
CREATE INDEX artifacts_hash ON artifacts (hash);

CREATE TABLE plans (
  hash TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE bundles (
  hash TEXT PRIMARY KEY,
  code TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
`;

export const migration001: Migration = { version: 1, name: "initial", sqlite: sql, postgres: sql };
