/**
 * PostgreSQL for tests: 127.0.0.1:5432, user postgres, database test, unless
 * GANTRY_TEST_DATABASE_URL says otherwise. Each test gets a fresh schema,
 * dropped at the end of the file. When the server cannot be reached the suite
 * is skipped with one line, unless GANTRY_REQUIRE_SERVICES=1.
 */
import pg from "pg";

export const TEST_DATABASE_URL = process.env.GANTRY_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

/** `undefined` when reachable, else why not. */
export async function postgresUnavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return (error as Error).message || String((error as { code?: string }).code);
  } finally {
    await client.end().catch(() => undefined);
  }
}

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

/** Skip (one line on stdout) or fail, per GANTRY_REQUIRE_SERVICES. */
export async function requirePostgres(suite: string): Promise<boolean> {
  const why = await postgresUnavailable();
  if (why === undefined) return true;
  if (process.env.GANTRY_REQUIRE_SERVICES === "1") {
    throw new Error(`${suite}: PostgreSQL at ${TEST_DATABASE_URL} is required (GANTRY_REQUIRE_SERVICES=1) but unreachable: ${why}`);
  }
  console.log(`skipped ${suite}: PostgreSQL at ${TEST_DATABASE_URL} is unreachable (${why})`);
  return false;
}
