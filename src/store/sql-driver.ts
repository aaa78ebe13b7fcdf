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
  /** `durable: false`: the commit need not survive a power loss (it still survives a killed process). */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, options?: { readonly durable?: boolean }): Promise<T>;
  /**
   * Optional: run recorded statements (whose results nobody reads) in one
   * transaction off the event loop (SQLite: a writer thread with its own
   * connection), in order with every other call on this driver.
   */
  offload?(statements: ReadonlyArray<readonly [string, readonly SqlValue[]]>, options: { readonly durable: boolean }): Promise<void>;
  /** Run several statements (a migration) in one transaction, serialised against other migrators. */
  migrateWith(fn: (tx: SqlRunner & { exec(sql: string): Promise<void> }) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// eslint-disable-next-line no-control-regex -- NUL is what this looks for
export const UNSTORABLE = /[\u0000\uD800-\uDFFF]/;

/**
 * Text as both databases can store it: a NUL (PostgreSQL refuses it in TEXT)
 * becomes U+2400 `␀`, and a lone UTF-16 surrogate (not valid UTF-8) becomes
 * U+FFFD. Applied by both drivers to every string parameter, so a step name,
 * an error message or a log line never costs the run its record.
 */
export function storable(text: string): string {
  if (!UNSTORABLE.test(text)) return text;
  return text.replace(LONE_SURROGATE, "\uFFFD").replaceAll("\u0000", "\u2400");
}

export function storableParams(params: readonly SqlValue[]): SqlValue[] {
  return params.map((p) => (typeof p === "string" ? storable(p) : p));
}
