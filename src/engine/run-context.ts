/**
 * What the scheduler, job runner and step runner share during one run.
 * Built once by `runPlan`; nothing in it is per job.
 */
import type { RunCache } from "../core/cache.js";
import type { JobStatus, NeedResult } from "../core/context.js";
import type { Workflow } from "../core/definition.js";
import type { ContainerRuntime } from "../core/ephemeral.js";
import type { GantryEvents, EventName, LogStream } from "../core/events.js";
import type { Plan, PlanExecutor, PlanJob } from "../core/plan-types.js";
import type { ArtifactStore } from "./artifacts.js";
import type { LogBudget } from "./log-budget.js";
import type { Redactor } from "./redact.js";
import type { WorkspacePool } from "./workspaces.js";

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** The state of one job in this run. */
export interface JobRunState {
  readonly job: PlanJob;
  status: JobStatus;
  attempts: number;
  /** Real (unredacted) outputs, for `ctx.needs` of later jobs. */
  outputs: Record<string, string>;
  durationMs: number;
  reason?: string;
  /** Not run in this run: restored from an earlier run, or a need left out by `-j --only`. */
  origin: "run" | "restored" | "unselected";
}

export interface RunContext {
  readonly plan: Plan;
  readonly workflow: Workflow | undefined;
  readonly runId: string;
  readonly repoDir: string;
  readonly runDir: string;
  readonly redactor: Redactor;
  readonly random: () => number;
  readonly sleep: Sleep;
  readonly killGraceMs: number | undefined;
  readonly cleanupGraceMs: number;
  /** Aborted on the first cancel (or an engine fault): running work stops. */
  readonly cancel: AbortSignal;
  /** Aborted on the second cancel: also `always()` work stops, without a kill grace period. */
  readonly force: AbortSignal;
  readonly artifacts: ArtifactStore;
  readonly workspaces: WorkspacePool;
  readonly records: ReadonlyMap<string, JobRunState>;
  /** Starts ephemeral containers for jobs on the runner's disk (`RunOptions.containers`). */
  readonly containers?: ContainerRuntime;
  /** The run history's cache, when the run has a store (`cache: true`, `caches`). */
  readonly cache: RunCache | undefined;
  /** The env the workflow and the command line give every job (no process env): part of the job cache key. */
  readonly workflowEnv: Readonly<Record<string, string>>;
  /** The secret values of the run's env (for the cache key: they are hashed with a key of the store). */
  readonly secretValues: ReadonlySet<string>;
  /** Process env plus the workflow's env values, for jobs on `def`. */
  baseEnv(def: PlanExecutor): Readonly<Record<string, string>>;
  runStatus(): "success" | "failure" | "cancelled";
  emit<K extends EventName>(type: K, payload: Omit<GantryEvents[K], "ts" | "runId">): void;
  /** The log limit of a job (one per job, shared by its attempts and steps). */
  logBudget(job: PlanJob): LogBudget;
  /** `undefined` when the sinks keep up; else resolves when they caught up (pause the producer until then). */
  sinksReady(): Promise<void> | undefined;
  /** The hot path of `emit("log", ...)`: a batch of output lines (never empty). */
  emitLog(jobId: string, stepIndex: number | undefined, stream: LogStream, lines: readonly string[]): void;
}

/** A failure that `continueOnError` turns into a success for whoever depends on it. */
export function effectiveStatus(record: JobRunState): JobStatus {
  if ((record.status === "failure" || record.status === "timed_out") && record.job.continueOnError) return "success";
  return record.status;
}

export function isFailure(status: JobStatus): boolean {
  return status === "failure" || status === "timed_out";
}

/** `ctx.needs`: results by job id, and for matrix jobs also by their key (outputs merged). */
export function needResults(ctx: RunContext, job: PlanJob): Record<string, NeedResult> {
  const needs: Record<string, NeedResult> = {};
  const byKey = new Map<string, PlanJob[]>();
  for (const id of job.needs) {
    const record = ctx.records.get(id);
    if (!record) continue;
    needs[id] = Object.freeze({ status: effectiveStatus(record), outputs: Object.freeze({ ...record.outputs }) });
    if (record.job.key !== id) byKey.set(record.job.key, [...(byKey.get(record.job.key) ?? []), record.job]);
  }
  for (const [key, jobs] of byKey) {
    if (key in needs) continue;
    const outputs: Record<string, string> = {};
    let status: JobStatus = "success";
    for (const j of jobs) {
      const result = needs[j.id];
      if (!result) continue;
      Object.assign(outputs, result.outputs);
      if (status === "success" && result.status !== "success") status = result.status;
    }
    needs[key] = Object.freeze({ status, outputs: Object.freeze(outputs) });
  }
  return needs;
}

export function envWith(base: Readonly<Record<string, string>>, extra: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  for (const _ in extra) return { ...base, ...extra };
  return base;
}
