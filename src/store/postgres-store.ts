/**
 * PostgreSQL via a `pg` Pool. The URL is `postgres://user:pass@host:port/db`;
 * `?schema=name` (or the `schema` option) puts Gantry's tables in that schema:
 * every pooled connection starts with `search_path` set to it. Migrations take
 * a transaction-scoped advisory lock so that several servers starting at
 * once apply them one at a time.
 */
import pg from "pg";
import { GantryError } from "../core/errors.js";
import { BlobDir } from "./blobs.js";
import { storableParams, type Row, type SqlDriver, type SqlRunner, type SqlValue } from "./sql-driver.js";
import { SqlStore } from "./sql-store.js";

export interface PostgresStoreOptions {
  readonly url: string;
  /** Schema for Gantry's tables; overrides `?schema=` in the URL. Default: the server's search_path (usually `public`). */
  readonly schema?: string;
  /** Where content-addressed blobs go (a local or shared directory). */
  readonly blobDir: string;
  /** Pool size (default 10). */
  readonly max?: number;
}

const MIGRATION_LOCK = 0x67616e74; // "gant"

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<invalid PostgreSQL URL>";
  }
}

export function postgresError(error: unknown, location: string): GantryError {
  if (error instanceof GantryError) return error;
  const e = error as { code?: string; message?: string; errors?: Array<{ code?: string }> };
  const code = e.code ?? e.errors?.[0]?.code ?? "";
  const detail = e.message || code || String(error);
  const fail = (message: string, retryable = false) => new GantryError("STORE_FAILED", message, { cause: error, retryable });
  switch (code) {
    case "ECONNREFUSED":
      return fail(`cannot connect to PostgreSQL at ${location}: connection refused (is the server running?)`, true);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return fail(`cannot connect to PostgreSQL at ${location}: unknown host`, true);
    case "ETIMEDOUT":
      return fail(`cannot connect to PostgreSQL at ${location}: timed out`, true);
    case "28P01":
      return fail(`PostgreSQL at ${location} rejected the password (${detail})`);
    case "28000":
      return fail(`PostgreSQL at ${location} refused the login (${detail})`);
    case "3D000":
      return fail(`PostgreSQL at ${location}: ${detail}; create it first`);
    case "42501":
      return fail(`PostgreSQL at ${location}: permission denied (${detail})`);
  }
  if (/timeout/i.test(detail)) return fail(`cannot connect to PostgreSQL at ${location}: ${detail}`, true);
  return fail(`PostgreSQL at ${location} failed: ${detail}`, code.startsWith("08") || code === "40001" || code === "40P01");
}

/** `?` placeholders to `$1, $2, ...` (the store's SQL has no `?` inside literals). */
export function numberPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const int8AsNumber = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};

function runnerOf(client: pg.Pool | pg.PoolClient, location: string): SqlRunner {
  return {
    all: async (sql, params = []) => {
      try {
        return (await client.query<Row>(numberPlaceholders(sql), storableParams(params))).rows;
      } catch (error) {
        throw postgresError(error, location);
      }
    },
    run: async (sql, params = []) => {
      try {
        return (await client.query(numberPlaceholders(sql), storableParams(params))).rowCount ?? 0;
      } catch (error) {
        throw postgresError(error, location);
      }
    },
  };
}

class PostgresDriver implements SqlDriver {
  readonly dialect = "postgres" as const;
  private readonly runner: SqlRunner;

  constructor(
    private readonly pool: pg.Pool,
    readonly location: string,
    private readonly schema: string | undefined,
  ) {
    this.runner = runnerOf(pool, location);
  }

  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return this.runner.all(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.runner.run(sql, params);
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>, options: { readonly durable?: boolean } = {}): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw postgresError(error, this.location);
    }
    let failed: Error | undefined;
    try {
      await client.query("BEGIN");
      // Not durable: the commit does not wait for the WAL flush (a server crash may lose it, never half of it).
      if (options.durable === false) await client.query("SET LOCAL synchronous_commit TO OFF");
      const result = await fn(runnerOf(client, this.location));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      failed = error as Error;
      await client.query("ROLLBACK").catch(() => undefined);
      throw postgresError(error, this.location);
    } finally {
      // A client that failed may have lost its connection (a server restart): drop it rather than pool it.
      client.release(failed);
    }
  }

  migrateWith(fn: (tx: SqlRunner & { exec(sql: string): Promise<void> }) => Promise<void>): Promise<void> {
    return this.transaction(async (tx) => {
      await tx.run(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      if (this.schema) await tx.run(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await fn({ ...tx, exec: async (sql) => void (await tx.run(sql)) });
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Open a PostgreSQL store (connects lazily; `migrate` is the first round trip). */
export function openPostgresStore(options: PostgresStoreOptions): SqlStore {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new GantryError(
      "USAGE",
      `the PostgreSQL URL ${JSON.stringify(redactUrl(options.url))} is not a valid URL (expected postgres://user:password@host:port/database)`,
    );
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new GantryError("USAGE", `the database URL must start with postgres:// (got ${url.protocol}//)`);
  }
  const schema = options.schema ?? url.searchParams.get("schema") ?? undefined;
  url.searchParams.delete("schema");
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new GantryError("USAGE", `the PostgreSQL schema name ${JSON.stringify(schema)} is not a plain identifier (letters, digits, _)`);
  }
  const location = redactUrl(url.toString());
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: options.max ?? 10,
    connectionTimeoutMillis: 10_000,
    types: int8AsNumber,
    ...(schema ? { options: `-c search_path="${schema}"` } : {}),
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on("error", () => undefined);
  return new SqlStore(new PostgresDriver(pool, location, schema), new BlobDir(options.blobDir));
}
