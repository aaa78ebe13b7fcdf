/**
 * The executor contract. One interface for every place a job can run: a
 * local directory, a container, an SSH host, or the kind you register
 * (see `executor-kind.ts`).
 *
 * Call order, for one run:
 *
 *   setupWorkspace(ws)                         once per executor name, before its first job
 *     for each job that uses it (possibly several at once):
 *       setupJob(job)
 *       jobLocation?(job)                      optional; right after setupJob, also when it failed
 *       writeFiles(job, path, tar)*            restore input artifacts
 *       exec(job, req, io)*                    one call per process (step, shell condition, ctx.sh)
 *       readFiles(job, path)*                  save output artifacts
 *       cleanupJob(job)                        always, also after a failed or missing setupJob
 *   cleanupWorkspace(ws)                       once, after its last job; always, also on failure,
 *                                              Ctrl-C, SIGTERM, or a failed/missing setupWorkspace
 *
 * Concurrency: calls for different jobs may run at the same time; calls for
 * one job are sequential except `exec` from a TypeScript step, which may run
 * several processes at once. `setupWorkspace` and `cleanupWorkspace` never
 * overlap any other call on the same executor.
 *
 * Idempotency: `cleanupJob` and `cleanupWorkspace` must succeed when setup
 * failed half-way or never ran, and when called twice.
 *
 * Signals: `exec` gets the step's signal (the run's signal combined with the
 * step's timeout); on abort it must kill the whole process tree (SIGTERM,
 * then SIGKILL after `killGraceMs`) and resolve with `cancelled` or
 * `timedOut` set. Cleanup calls get a fresh grace-period signal, never the
 * run's (already aborted) one.
 *
 * Results: a non-zero exit is a result, not an exception. `exec` resolves
 * with `{ exitCode, signal, timedOut, cancelled }`; only infrastructure
 * faults (connection lost, container gone) reject, with a `GantryError`
 * whose `retryable` says whether another attempt may help.
 */
import type { Readable } from "node:stream";
import type { PlanExecutor, PlanJob } from "./plan-types.js";

export interface WorkspaceInfo {
  readonly runId: string;
  /** Absolute path of the repository the run started from. */
  readonly repoDir: string;
  /** Absolute path of the run's scratch directory (local disk of the runner). */
  readonly runDir: string;
  readonly executor: PlanExecutor;
  /** Every job of this run that uses this executor. */
  readonly jobs: readonly PlanJob[];
  readonly signal: AbortSignal;
}

export interface JobInfo {
  readonly runId: string;
  readonly repoDir: string;
  readonly runDir: string;
  readonly job: PlanJob;
  /** Attempt of the whole job, from 1. */
  readonly attempt: number;
  readonly signal: AbortSignal;
}

export interface ExecRequest {
  /** A script run by the job's shell (bash when present, else sh) with `set -eo pipefail`. */
  readonly script?: string;
  /** Or a program and its arguments, run without a shell. */
  readonly argv?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Working directory relative to the job directory. */
  readonly cwd?: string;
  readonly signal: AbortSignal;
  /** Why the signal fired, when it did: the engine sets this before aborting. */
  readonly timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL. */
  readonly killGraceMs?: number;
  /**
   * The run's force signal (a second Ctrl-C): when it fires, the process tree
   * is killed at once (SIGKILL), also while it is in its grace period.
   */
  readonly force?: AbortSignal;
  /** Bytes to write to the process's stdin, then close it. */
  readonly stdin?: string | Uint8Array;
}

/**
 * Where a process's output goes. A handler may return a promise: the engine's
 * sinks are behind, and the executor should stop reading that stream (pause
 * it, so the process blocks on a full pipe) until the promise settles.
 * Executors that cannot pause may ignore it; the engine never buffers
 * without bound either way (a job's log limit).
 */
export interface ExecIO {
  /** A returned `Promise` asks for a pause; any other value is ignored. */
  stdout(chunk: Buffer): unknown;
  stderr(chunk: Buffer): unknown;
}

export interface ExecResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
}

export interface Executor {
  /** Deduplication key: jobs whose executors have the same name share one workspace. */
  readonly name: string;
  setupWorkspace(ws: WorkspaceInfo): Promise<void>;
  cleanupWorkspace(ws: WorkspaceInfo): Promise<void>;
  setupJob(job: JobInfo): Promise<void>;
  exec(job: JobInfo, req: ExecRequest, io: ExecIO): Promise<ExecResult>;
  /** A tar stream of `path` (relative to the job directory; a file or a directory). */
  readFiles(job: JobInfo, path: string): Promise<Readable>;
  /** Extract a tar stream into `path` (relative to the job directory), enforcing the jail rules. */
  writeFiles(job: JobInfo, path: string, tar: Readable): Promise<void>;
  cleanupJob(job: JobInfo): Promise<void>;
  /** Absolute job directory when it is on the runner's file system (local executor), for `ctx.fs`. */
  localJobDir?(job: JobInfo): string | undefined;
  /**
   * Optional: the job directory as the job's own processes see it (inside its
   * container, on the remote host), for `GANTRY_WORKSPACE`. Called after a
   * successful `setupJob`; synchronous. Without it the engine uses `localJobDir`.
   */
  jobPath?(job: JobInfo): string | undefined;
  /**
   * Optional: where this attempt of the job runs, for people to read
   * (`ci@10.0.0.5:22`, `build-1 (ci@10.0.0.11:22)`, a container name).
   * Called once per attempt, right after `setupJob` returns or throws (a
   * host may have been chosen before the setup failed); synchronous, must
   * not throw. `undefined` when not known (yet). The engine emits it as
   * `job.location`, logs it, and the store keeps the last attempt's.
   */
  jobLocation?(job: JobInfo): string | undefined;
}

/** Builds an executor for a plan entry. Registered per kind by the CLI, server or agent. */
export type ExecutorFactory = (def: PlanExecutor) => Executor;
