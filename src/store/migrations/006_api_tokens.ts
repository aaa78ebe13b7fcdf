/**
 * API tokens of `gantry server` (issue 12): one row per token, holding only
 * the SHA-256 of the token (the token itself is shown once, at creation).
 * `revoked_at` and `expires_at` end a token; rows are kept for the audit
 * trail. Their audit rows go to `audit` (migration 5).
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
  sqlite: tokens,
  postgres: tokens,
};
