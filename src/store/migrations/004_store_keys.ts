/**
 * Per-store secret keys (`store_keys`): random values made on first use and
 * never leaving the store. `cache-hmac` keys the HMAC-SHA256 through which
 * secret values enter the `cache: true` env hash, so a stored hash cannot be
 * used to guess a weak secret offline without the database.
 */
import type { Migration } from "./index.js";

const sql = `
CREATE TABLE store_keys (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
`;

export const migration004: Migration = { version: 4, name: "store_keys", sqlite: sql, postgres: sql };
