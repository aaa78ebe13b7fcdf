/**
 * Where each job ran: the executor's `jobLocation` of the job's last
 * attempt (`ci@10.0.0.5:22`, an ssh alias with its address). Additive: a
 * nullable column, so an older reader keeps working.
 */
import type { Migration } from "./index.js";

const sql = `ALTER TABLE jobs ADD COLUMN location TEXT;`;

export const migration002: Migration = { version: 2, name: "job_location", sqlite: sql, postgres: sql };
