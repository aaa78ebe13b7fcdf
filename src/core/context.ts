/**
 * What TypeScript steps, predicates and actions receive. The engine builds
 * these; the core only declares them.
 */
import type { MatrixValue } from "./definition.js";

export type JobStatus = "queued" | "running" | "success" | "failure" | "cancelled" | "skipped" | "timed_out" | "cached";
export type StepStatus = "running" | "success" | "failure" | "cancelled" | "skipped" | "timed_out";
export type RunStatus = "running" | "success" | "failure" | "cancelled" | "interrupted";

export interface NeedResult {
  readonly status: JobStatus;
  readonly outputs: Readonly<Record<string, string>>;
}

/** The inputs of a run when the workflow declares no schema, or a step does not say which it reads. */
export type AnyInputs = Readonly<Record<string, unknown>>;

export interface ConditionContext<I = AnyInputs> {
  readonly job: string;
  /**
   * The run's inputs (`workflow({ inputs })`), parsed by the workflow's schema
   * with its defaults applied; `{}` when it declares none. Type a step's
   * `ctx` as `StepContext<z.infer<typeof inputs>>` to read them typed.
   */
  readonly inputs: I;
  readonly matrix: Readonly<Record<string, MatrixValue>>;
  readonly env: Readonly<Record<string, string>>;
  /** Results of the jobs this job needs, by job id (matrix jobs also by their key, merged). */
  readonly needs: Readonly<Record<string, NeedResult>>;
  /** Status of the run so far: "failure" once any job failed, "cancelled" after cancel. */
  readonly runStatus: "success" | "failure" | "cancelled";
}

export interface ShResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Resolve with a non-zero exit code instead of throwing. */
  readonly nothrow?: boolean;
}

export interface StepLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** File access jailed to the job's workspace: no absolute paths, no `..`, no symlink escapes. */
export interface JailedFs {
  readFile(path: string): Promise<string>;
  writeFile(path: string, data: string | Uint8Array): Promise<void>;
  exists(path: string): Promise<boolean>;
  mkdir(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  rm(path: string): Promise<void>;
}

/** Processes in an ephemeral container: the same semantics as `ctx.sh` / `ctx.exec` (env, log, redaction, kill on cancel). */
export interface ContainerHandle {
  sh(strings: TemplateStringsArray | string, ...values: unknown[]): Promise<ShResult>;
  exec(argv: readonly string[], options?: ExecOptions): Promise<ShResult>;
}

export interface StepContext<I = AnyInputs> extends ConditionContext<I> {
  readonly runId: string;
  readonly step: string;
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly log: StepLogger;
  readonly fs: JailedFs;
  /** Run a shell command in the job's executor; throws on a non-zero exit unless `nothrow`. */
  sh(strings: TemplateStringsArray | string, ...values: unknown[]): Promise<ShResult>;
  /** Run argv in the job's executor, without a shell. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ShResult>;
  /** Set an output later jobs read as `needs["<job>"].outputs[key]`. */
  setOutput(key: string, value: string): void;
  /**
   * Run `fn` with a throw-away container of `image` that shares the job's files
   * (container jobs: the same job directory; local jobs: bind-mounted at /workspace),
   * and return its value. The container is removed when `fn` returns or throws,
   * and when the step is cancelled or times out.
   */
  container<T>(image: string, fn: (c: ContainerHandle) => Promise<T>): Promise<T>;
}
