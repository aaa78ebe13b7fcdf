/**
 * The server's durable state (issue 12): the job queue with leases, fencing
 * and quarantine, each claim recorded as an attempt, the per-run event log
 * behind SSE, the server-side state of a run, leader leases (the reaper) and
 * the audit log. Additive: new tables only, so an older reader keeps working.
 *
 * - `queue_entries`: one row per job of a server run. `state` is `available`
 *   (claimable once `run_after` has passed), `claimed` (held by `worker_id`
 *   until `lease_expires_at`), `done` or `quarantined` (`reason` says why).
 *   `attempt` is the fencing token: +1 at each claim; every write a worker
 *   makes carries it and is refused once it is not the entry's current,
 *   claimed attempt. `lost` counts lease expiries (a worker that died).
 *   The partial index over available rows is what the claim scans.
 * - `queue_attempts`: one row per claim (who, when it was claimed, when and how
 *   it ended), so a repeated execution is a separate recorded attempt.
 * - `run_state`: what a server run needs beyond `runs`: the request (bundle,
 *   snapshot, inputs, env), fail-fast, a cancel request, and the last event
 *   sequence number (`run_events.seq` is 1, 2, 3 ... per run, no gaps).
 * - `leases`: named leader leases (`reaper`), held until `expires_at`.
 * - `audit`: who changed what, one row per state change, written in the
 *   same transaction as the change.
 */
import type { Migration } from "./index.js";

const tables = (serial: string): string => `
CREATE TABLE run_state (
  run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  repo TEXT NOT NULL,
  request TEXT NOT NULL,
  fail_fast INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  event_seq BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);

CREATE TABLE queue_entries (
  id ${serial},
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id TEXT NOT NULL,
  state TEXT NOT NULL,
  payload TEXT NOT NULL,
  labels TEXT NOT NULL DEFAULT '[]',
  run_after BIGINT NOT NULL,
  attempt INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  lost INTEGER NOT NULL DEFAULT 0,
  worker_id TEXT,
  lease_expires_at BIGINT,
  reason TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX queue_entries_job ON queue_entries (run_id, job_id);
CREATE INDEX queue_entries_available ON queue_entries (id) WHERE state = 'available';
CREATE INDEX queue_entries_leases ON queue_entries (lease_expires_at) WHERE state = 'claimed';
CREATE INDEX queue_entries_state ON queue_entries (state);

CREATE TABLE queue_attempts (
  entry_id BIGINT NOT NULL REFERENCES queue_entries (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  claimed_at BIGINT NOT NULL,
  ended_at BIGINT,
  outcome TEXT,
  PRIMARY KEY (entry_id, attempt)
);

CREATE TABLE run_events (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  type TEXT NOT NULL,
  job_id TEXT,
  ts BIGINT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE leases (
  name TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE audit (
  id ${serial},
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX audit_at ON audit (at DESC);
`;

export const migration005: Migration = {
  version: 5,
  name: "queue",
  sqlite: tables("INTEGER PRIMARY KEY AUTOINCREMENT"),
  postgres: tables("BIGSERIAL PRIMARY KEY"),
};
