/**
 * API tokens of `gantry server` (issue 12): one row per token, holding only
 * the SHA-256 of the token (the token itself is shown once, at creation).
 * `revoked_at` and `expires_at` end a token; rows are kept for the audit
 * trail. The `audit` table itself belongs to migration 005; `IF NOT EXISTS`
 * here only keeps a store that has 006 before 005 working.
 */
import type { Migration } from "./index.js";

const tokens = `
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  revoked_at BIGINT,
  created_by TEXT NOT NULL
);
CREATE INDEX runs_started_id ON runs (started_at DESC, id DESC);
`;

export const migration006: Migration = {
  version: 6,
  name: "api_tokens",
  sqlite: `${tokens}
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT
);`,
  postgres: `${tokens}
CREATE TABLE IF NOT EXISTS audit (
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT
);`,
};
