/**
 * Webhook deliveries and commit statuses (issue 13). Additive: new tables.
 *
 * - `hook_deliveries`: one row per VERIFIED delivery, written (with its audit
 *   row) before the server answers 202. `(repo, provider, delivery)` is
 *   unique: a repeated delivery id creates nothing. `event` is the normalised
 *   event (JSON, `server/hooks/types.ts`), `body_hash` the SHA-256 of the raw
 *   body. `state`: `pending` (to process once `run_after` has passed),
 *   `processing` (held by `holder` until `lease_expires_at`; an expired lease
 *   is claimable again, so a crash mid-way is retried), `done` or `failed`;
 *   `result` (JSON) lists the runs started and the workflows skipped, and why.
 * - `hook_statuses`: the commit-status outbox, one row per run a delivery
 *   started: where to report (`target`, JSON), the state last reported, and
 *   when to try next (`next_at`, with backoff after a failure).
 */
import type { Migration } from "./index.js";

const tables = `
CREATE TABLE hook_deliveries (
  id TEXT PRIMARY KEY,
  repo TEXT NOT NULL,
  provider TEXT NOT NULL,
  delivery TEXT NOT NULL,
  event TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  holder TEXT,
  lease_expires_at BIGINT,
  run_after BIGINT NOT NULL,
  received_at BIGINT NOT NULL,
  finished_at BIGINT,
  result TEXT
);
CREATE UNIQUE INDEX hook_deliveries_key ON hook_deliveries (repo, provider, delivery);
CREATE INDEX hook_deliveries_open ON hook_deliveries (run_after) WHERE state IN ('pending', 'processing');

CREATE TABLE hook_statuses (
  run_id TEXT PRIMARY KEY,
  delivery_id TEXT NOT NULL,
  target TEXT NOT NULL,
  reported TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at BIGINT NOT NULL,
  last_error TEXT
);
CREATE INDEX hook_statuses_due ON hook_statuses (next_at);
`;

export const migration008: Migration = {
  version: 8,
  name: "hook_deliveries",
  sqlite: tables,
  postgres: tables,
};
