/**
 * Numbered schema migrations shared by SQLite and PostgreSQL. Each has a
 * version (1, 2, 3, ... never reused), a name and the SQL for each dialect
 * (usually the same text). Applied versions are recorded in
 * `schema_migrations`; a store whose highest recorded version is above
 * `LATEST_SCHEMA_VERSION` belongs to a newer Gantry and is refused, untouched.
 *
 * Rules for a new migration: add `NNN_name.ts`, append it to `MIGRATIONS`,
 * never edit a released one; prefer additive changes (new tables, nullable
 * columns) so an older reader keeps working until it upgrades.
 */
import { GantryError } from "../../core/errors.js";
import { migration001 } from "./001_initial.js";
import { migration002 } from "./002_job_location.js";
import { migration003 } from "./003_caches.js";
import { migration004 } from "./004_store_keys.js";
import { migration005 } from "./005_queue.js";
import { migration006 } from "./006_api_tokens.js";
import { migration007 } from "./007_log_blocks.js";
import { migration008 } from "./008_hook_deliveries.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
  readonly postgres: string;
}

export const MIGRATIONS: readonly Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
  migration005,
  migration006,
  migration007,
  migration008,
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

export const SCHEMA_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

/** The migrations still to apply, given the versions already recorded; refuses a newer schema. */
export function pendingMigrations(applied: readonly number[], location: string, all: readonly Migration[] = MIGRATIONS): Migration[] {
  const latest = all.reduce((max, m) => Math.max(max, m.version), 0);
  const highest = applied.reduce((max, v) => Math.max(max, v), 0);
  if (highest > latest) {
    throw new GantryError(
      "STORE_SCHEMA",
      `the database at ${location} has schema version ${highest}, newer than this Gantry (${latest}); upgrade Gantry`,
    );
  }
  const done = new Set(applied);
  return all.filter((m) => !done.has(m.version)).sort((a, b) => a.version - b.version);
}
