/**
 * PostgreSQL for tests: 127.0.0.1:5432, user postgres, database test, unless
 * GANTRY_TEST_DATABASE_URL says otherwise. Each test gets a fresh schema,
 * dropped at the end of the file. A suite asks for the server with
 * `requireService("postgres", why)` (test/support/services.ts): skipped with
 * one line when it cannot be reached, failed under GANTRY_REQUIRE_SERVICES=1.
 */
import pg from "pg";
import { requireService, TEST_DATABASE_URL } from "../support/services.js";

export { TEST_DATABASE_URL };

let counter = 0;
const created: string[] = [];

export function freshSchemaName(prefix: string): string {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${++counter}`;
  created.push(name);
  return name;
}

export async function runSql(sql: string, schema?: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function dropCreatedSchemas(): Promise<void> {
  if (created.length === 0) return;
  await runSql(
    created
      .splice(0)
      .map((s) => `DROP SCHEMA IF EXISTS "${s}" CASCADE;`)
      .join("\n"),
  );
}

/**
 * @deprecated Use `requireService("postgres", suite)` with `describe.skipIf`;
 * kept for suites written before it: true when PostgreSQL can be used.
 */
export async function requirePostgres(suite: string): Promise<boolean> {
  return (await requireService("postgres", suite)) === undefined;
}
