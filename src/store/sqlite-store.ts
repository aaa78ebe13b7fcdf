/**
 * SQLite via better-sqlite3: one file, WAL journal, `busy_timeout` so that
 * several processes (a run, `gantry logs -f`, `gantry runs`) share it.
 *
 * Durability: WAL with `synchronous=NORMAL` for the connection, and `FULL`
 * around each durable transaction (the default of `Store.write`). NORMAL
 * survives a killed process (SIGKILL: the commit is in the WAL, in the OS's
 * page cache) but may lose the last commits on power loss; a FULL commit
 * fsyncs the WAL, which holds every earlier commit too. The store writer
 * writes intermediate batches with NORMAL and the run's end with FULL.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import { GantryError } from "../core/errors.js";
import { BlobDir } from "./blobs.js";
import { storableParams, type Row, type SqlDriver, type SqlRunner, type SqlValue } from "./sql-driver.js";
import { SqlStore } from "./sql-store.js";
import { SqliteThread } from "./sqlite-thread.js";

export interface SqliteStoreOptions {
  /** The database file. */
  readonly path: string;
  /** Where content-addressed blobs go; default `<dir of path>/blobs`. */
  readonly blobDir?: string;
  /** How long to wait for another process's write lock, in ms (default 10 s). */
  readonly busyTimeoutMs?: number;
}

/** One clear sentence for what went wrong with the file. */
export function sqliteError(error: unknown, path: string): GantryError {
  if (error instanceof GantryError) return error;
  const e = error as { code?: string; message?: string };
  const code = e.code ?? "";
  const detail = e.message ?? String(error);
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) {
    return new GantryError(
      "STORE_FAILED",
      `the state database at ${path} is corrupt or not a SQLite database (${detail}); it was left untouched: move it aside to start a new history`,
      { cause: error },
    );
  }
  if (
    code.startsWith("SQLITE_READONLY") ||
    code.startsWith("SQLITE_CANTOPEN") ||
    code === "EACCES" ||
    code === "EROFS" ||
    code === "EPERM"
  ) {
    return new GantryError(
      "STORE_FAILED",
      `the state database at ${path} cannot be written (${detail}); check the permissions of the file and its directory`,
      { cause: error },
    );
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new GantryError("STORE_FAILED", `the state database at ${path} stayed locked by another process (${detail})`, {
      cause: error,
      retryable: true,
    });
  }
  if (code.startsWith("SQLITE_FULL") || code === "ENOSPC") {
    return new GantryError("STORE_FAILED", `the disk holding ${path} is full (${detail})`, { cause: error, retryable: true });
  }
  return new GantryError("STORE_FAILED", `the state database at ${path} failed: ${detail}`, { cause: error });
}

class SqliteDriver implements SqlDriver {
  readonly dialect = "sqlite" as const;
  private readonly statements = new Map<string, Database.Statement>();
  private lock: Promise<unknown> = Promise.resolve();
  private readonly raw: SqlRunner;
  private readonly thread: SqliteThread;

  constructor(
    private readonly db: Database.Database,
    readonly location: string,
    busyTimeoutMs: number,
  ) {
    this.thread = new SqliteThread(location, busyTimeoutMs);
    this.raw = {
      all: async (sql, params = []) => this.guard(() => this.prepare(sql).all(...storableParams(params)) as Row[]),
      run: async (sql, params = []) => this.guard(() => this.prepare(sql).run(...storableParams(params)).changes),
    };
  }

  private prepare(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size > 500) this.statements.clear();
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw sqliteError(error, this.location);
    }
  }

  /** One operation at a time on the connection, so a transaction never sees another caller's statements. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.lock.then(fn);
    this.lock = result.catch(() => undefined);
    return result;
  }

  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return this.exclusive(() => this.raw.all(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.exclusive(() => this.raw.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, options: { readonly durable?: boolean } = {}): Promise<T> {
    const durable = options.durable !== false;
    return this.exclusive(async () => {
      if (durable) this.guard(() => this.db.pragma("synchronous = FULL"));
      try {
        this.guard(() => this.db.exec("BEGIN IMMEDIATE"));
        try {
          const result = await fn(this.raw);
          this.guard(() => this.db.exec("COMMIT"));
          return result;
        } catch (error) {
          if (this.db.inTransaction) this.db.exec("ROLLBACK");
          throw error;
        }
      } finally {
        if (durable && this.db.open) this.db.pragma("synchronous = NORMAL");
      }
    });
  }

  offload(statements: ReadonlyArray<readonly [string, readonly SqlValue[]]>, options: { readonly durable: boolean }): Promise<void> {
    return this.exclusive(async () => {
      try {
        await this.thread.run(statements, options.durable);
      } catch (error) {
        throw sqliteError(error, this.location);
      }
    });
  }

  migrateWith(fn: (tx: SqlRunner & { exec(sql: string): Promise<void> }) => Promise<void>): Promise<void> {
    return this.transaction((tx) => fn({ ...tx, exec: async (sql) => this.guard(() => void this.db.exec(sql)) }));
  }

  async close(): Promise<void> {
    await this.lock;
    await this.thread.close();
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}

/** Open (creating it when missing) a SQLite store. Does not migrate: see `openStore`. */
export function openSqliteStore(options: SqliteStoreOptions): SqlStore {
  const { path } = options;
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw sqliteError(error, path);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { timeout: options.busyTimeoutMs ?? 10_000 });
    // Reading the schema first detects a file that is not a database before anything is written to it.
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    if (db.readonly) throw Object.assign(new Error("the file is read-only"), { code: "SQLITE_READONLY" });
    db.pragma("journal_mode = WAL");
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
  } catch (error) {
    db?.close();
    throw sqliteError(error, path);
  }
  return new SqlStore(
    new SqliteDriver(db, path, options.busyTimeoutMs ?? 10_000),
    new BlobDir(options.blobDir ?? join(dirname(path), "blobs")),
  );
}
