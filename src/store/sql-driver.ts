/**
 * The little a SQL store needs from a database driver. SQL is written with
 * `?` placeholders; the PostgreSQL driver renumbers them to `$1, $2, ...`.
 * `transaction` runs `fn` in one transaction (BEGIN IMMEDIATE on SQLite) and
 * commits, or rolls back and rethrows.
 */
export type SqlValue = string | number | null;
export type Row = Record<string, unknown>;

export interface SqlRunner {
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface SqlDriver extends SqlRunner {
  readonly dialect: "sqlite" | "postgres";
  readonly location: string;
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /** Run several statements (a migration) in one transaction, serialised against other migrators. */
  migrateWith(fn: (tx: SqlRunner & { exec(sql: string): Promise<void> }) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}
