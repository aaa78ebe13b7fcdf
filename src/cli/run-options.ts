/**
 * The options of `gantry run`, as parsed by the command line (src/cli/main.ts).
 */
export type LogFormat = "pretty" | "plain" | "json";

export interface RunOptions {
  /** Repository directory (`-C DIR`); undefined means the current directory. */
  readonly dir?: string;
  /** Workflow file (`-f FILE`), relative to the repository directory. */
  readonly file?: string;
  /** The WORKFLOW argument: a workflow name or file stem. */
  readonly workflow?: string;
  /** `-j/--job ID` (repeatable): job ids or keys (a key selects every matrix expansion). */
  readonly job: readonly string[];
  /** `--only`: run the selected jobs without the jobs they need. */
  readonly only: boolean;
  /** `-n/--dry-run`: print what would run, run nothing. */
  readonly dryRun: boolean;
  /** `--concurrency N`: at most N jobs at once (undefined: the engine's default). */
  readonly concurrency?: number;
  /** `--fail-fast` / `--no-fail-fast` (undefined: the engine's default). */
  readonly failFast?: boolean;
  /** `--log-format` (undefined: pretty on a TTY, plain otherwise). */
  readonly logFormat?: LogFormat;
  /** `--log-dir DIR`: also write `events.jsonl` and per-job `.log` files there (relative to the current directory). */
  readonly logDir?: string;
  /** `--log-limit SIZE` in bytes: output kept per job, over the workflow's `logLimit`. */
  readonly logLimit?: number;
  /** `--env-file F` (repeatable): dotenv files, values are not secret. */
  readonly envFile: readonly string[];
  /** `--secret-file F` (repeatable): dotenv files whose values are secrets. */
  readonly secretFile: readonly string[];
  /** `--env K=V` (repeatable). */
  readonly env: Readonly<Record<string, string>>;
  /** `--secret K=V` (repeatable): redacted everywhere. */
  readonly secret: Readonly<Record<string, string>>;
  /** `--input KEY=VALUE` (repeatable): the workflow's typed inputs, as strings; its schema coerces them (core/inputs.ts). */
  readonly inputs?: Readonly<Record<string, string>>;
  /** `--watch`: run again when the workflow or the repository changes. */
  readonly watch: boolean;
}
