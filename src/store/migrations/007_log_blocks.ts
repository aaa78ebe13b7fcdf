/**
 * Log chunks as text blocks (issue 10): `segments` holds
 * `[[lineCount, msSinceFirst, streamCode], ...]` (one entry per `log` event
 * in the chunk) and `lines` the chunk's lines joined with `\n`, instead of
 * one JSON triple per line. Rows written before keep `segments` NULL and
 * their JSON `lines`; readers take both. Jobs record their log limit and
 * how much output went past it (`gantry show`: "log truncated after N MiB").
 */
import type { Migration } from "./index.js";

const sql = `
ALTER TABLE log_chunks ADD COLUMN segments TEXT;
ALTER TABLE jobs ADD COLUMN log_limit BIGINT;
ALTER TABLE jobs ADD COLUMN log_truncated_bytes BIGINT;
`;

export const migration007: Migration = {
  version: 7,
  name: "log_blocks",
  sqlite: sql,
  postgres: sql,
};
