/**
 * `runPlan`: run a plan's jobs on their executors, emitting every event on
 * the bus. Two signals stop it: `signal` (first Ctrl-C: running work is
 * stopped, `always()`/`cancelled()` jobs still run) and `forceSignal`
 * (second Ctrl-C: those stop too, without a kill grace period). Every
 * workspace that was set up is cleaned up, whatever happens, before
 * `run.finished` is emitted.
 */
import type { BlobStore } from "../core/blobs.js";
import type { RunCache } from "../core/cache.js";
import type { JobStatus, RunStatus } from "../core/context.js";
import type { Workflow } from "../core/definition.js";
import type { ContainerRuntime } from "../core/ephemeral.js";
import { coerceError, GantryError } from "../core/errors.js";
import type { EventBus } from "../core/events.js";
import type { Executor } from "../core/executor.js";
import type { Plan, PlanExecutor } from "../core/plan-types.js";
import { ArtifactStore } from "./artifacts.js";
import { runJob } from "./job-runner.js";
import { Redactor } from "./redact.js";
import { redactPlan } from "./redact-plan.js";
import { isFailure, type JobRunState, type RunContext, type Sleep } from "./run-context.js";
import { DEFAULT_LOG_LIMIT, LogBudget } from "./log-budget.js";
import { Scheduler } from "./scheduler.js";
import { cancelReason, defaultSleep, unboundedController } from "./signals.js";
import { WorkspacePool } from "./workspaces.js";

export interface RestoredJob {
  readonly status: JobStatus;
  readonly outputs: Readonly<Record<string, string>>;
  /** Shown as the job's reason in this run (default "reused from an earlier run"). */
  readonly reason?: string;
  /** Artifacts the job produced, by content hash in the run's `blobs`. */
  readonly artifacts?: Readonly<Record<string, { readonly hash: string; readonly size?: number }>>;
}

export interface RunOptions {
  readonly plan: Plan;
  /** The loaded workflow module: where TypeScript steps, predicates and actions are found. */
  readonly workflow?: Workflow;
  readonly executorFor: (def: PlanExecutor) => Executor;
  readonly bus: EventBus;
  readonly runId: string;
  readonly repoDir: string;
  /** Scratch directory of the run. */
  readonly runDir: string;
  /** Where artifact and cache tars are saved and restored from (the store's blob area for `gantry run`); reads are hash-checked. */
  readonly blobs: BlobStore;
  /** The resolved env: values (secrets included) and the secret values to redact. */
  readonly env: { readonly values: Readonly<Record<string, string>>; readonly secretValues: readonly string[] };
  /** Base of every process env on `local` executors (default `process.env`); other executors start empty. */
  readonly processEnv?: Readonly<Record<string, string | undefined>>;
  readonly concurrency: number;
  readonly failFast: boolean;
  /** `-j JOB`: run these jobs (ids or keys) and what they need; with `only`, run them alone (their needs count as succeeded). */
  readonly select?: { readonly jobs: readonly string[]; readonly only: boolean };
  /** First cancel. */
  readonly signal: AbortSignal;
  /** Second cancel: `always()` work stops too and processes are killed without a grace period. */
  readonly forceSignal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL (default: the executor's). */
  readonly killGraceMs?: number;
  /** Time cleanup calls get (default 60 s). */
  readonly cleanupGraceMs?: number;
  readonly random?: () => number;
  readonly sleep?: Sleep;
  /** Jobs done in an earlier run (`rerun --failed`): treated as final, not run again. */
  readonly restore?: { readonly jobs: Readonly<Record<string, RestoredJob>> };
  /** Starts ephemeral containers (`ctx.container`, `sh` steps with `container:`) for jobs on the runner's disk. */
  readonly containers?: ContainerRuntime;
  /** The run history's cache: `cache: true` jobs and keyed `caches` use it; without it they run uncached. */
  readonly cache?: RunCache;
  /** Bytes of process output kept per job, over the plan's `logLimit` (`--log-limit`); default: the plan's, else 100 MiB. */
  readonly logLimit?: number;
}

export interface JobResult {
  readonly status: JobStatus;
  readonly attempts: number;
  /** Outputs, redacted. */
  readonly outputs: Readonly<Record<string, string>>;
  readonly durationMs: number;
  readonly reason?: string;
}

export interface RunResult {
  readonly status: RunStatus;
  readonly jobs: Readonly<Record<string, JobResult>>;
  /** The first blob saved under each artifact name. */
  readonly artifacts: Readonly<Record<string, { readonly hash: string; readonly size: number; readonly jobId: string }>>;
}

export const DEFAULT_CLEANUP_GRACE_MS = 60_000;

/** Jobs to run: all, or the selected ones plus (unless `only`) their transitive needs. */
export function selectJobs(plan: Plan, select: RunOptions["select"]): Set<string> {
  if (!select || select.jobs.length === 0) return new Set(plan.jobs.map((j) => j.id));
  const byId = new Map(plan.jobs.map((j) => [j.id, j]));
  const chosen = new Set<string>();
  for (const name of select.jobs) {
    const matches = plan.jobs.filter((j) => j.id === name || j.key === name);
    if (matches.length === 0) {
      const known = [...new Set(plan.jobs.map((j) => j.key))].join(", ");
      throw new GantryError("USAGE", `no job named "${name}" in workflow "${plan.workflow.name}" (jobs: ${known || "none"})`);
    }
    for (const j of matches) chosen.add(j.id);
  }
  if (select.only) return chosen;
  const stack = [...chosen];
  while (stack.length > 0) {
    const job = byId.get(stack.pop() as string);
    for (const need of job?.needs ?? []) {
      if (!chosen.has(need)) {
        chosen.add(need);
        stack.push(need);
      }
    }
  }
  return chosen;
}

function stringEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key in env) {
    const value = env[key];
    if (typeof value === "string") out[key] = value;
  }
  return out;
}

export async function runPlan(options: RunOptions): Promise<RunResult> {
  const { plan, bus, runId } = options;
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
    throw new GantryError("USAGE", `concurrency must be a whole number of at least 1 (got ${String(options.concurrency)})`);
  }
  const selected = selectJobs(plan, options.select);
  const restored = options.restore?.jobs ?? {};
  const byId = new Map(plan.jobs.map((j) => [j.id, j]));
  for (const id of Object.keys(restored)) {
    if (!byId.has(id)) throw new GantryError("USAGE", `cannot restore job "${id}": the plan has no such job`);
  }

  const emit: RunContext["emit"] = (type, payload) => bus.emit(type, { ...payload, runId } as never);
  const cancelController = unboundedController();
  const forceController = unboundedController();
  let userCancelled = false;
  const onCancel = (): void => {
    userCancelled = true;
    cancelController.abort(cancelReason("the run was cancelled"));
    scheduler?.wake();
  };
  const onForce = (): void => {
    forceController.abort(cancelReason("the run was cancelled (forced)"));
    onCancel();
  };

  const cleanupGraceMs = options.cleanupGraceMs ?? DEFAULT_CLEANUP_GRACE_MS;
  const workspaces = new WorkspacePool({
    plan,
    runId,
    repoDir: options.repoDir,
    runDir: options.runDir,
    executorFor: options.executorFor,
    cleanupGraceMs,
    cancel: cancelController.signal,
    force: forceController.signal,
    emit,
  });
  const artifacts = new ArtifactStore(options.blobs);
  const records = new Map<string, JobRunState>();
  const toRun: JobRunState[] = [];
  const reused: JobRunState[] = [];
  for (const job of plan.jobs) {
    const done = restored[job.id];
    if (done) {
      const record: JobRunState = {
        job,
        status: done.status,
        attempts: 0,
        outputs: { ...done.outputs },
        durationMs: 0,
        reason: done.reason ?? "reused from an earlier run",
        origin: "restored",
      };
      records.set(job.id, record);
      reused.push(record);
      for (const [name, a] of Object.entries(done.artifacts ?? {})) {
        artifacts.register({ name, jobId: job.id, hash: a.hash, size: a.size ?? 0 });
      }
    } else if (selected.has(job.id)) {
      const record: JobRunState = { job, status: "queued", attempts: 0, outputs: {}, durationMs: 0, origin: "run" };
      records.set(job.id, record);
      toRun.push(record);
      workspaces.add(job);
    }
  }
  // Needs left out by `-j --only` count as succeeded, without outputs.
  for (const record of toRun) {
    for (const need of record.job.needs) {
      if (records.has(need)) continue;
      const job = byId.get(need);
      if (job) records.set(need, { job, status: "success", attempts: 0, outputs: {}, durationMs: 0, origin: "unselected" });
    }
  }

  const processEnv = stringEnv(options.processEnv ?? process.env);
  const baseEnvs = new Map<boolean, Record<string, string>>();
  let scheduler: Scheduler | undefined;
  const budgets = new Map<string, LogBudget>();
  const context: RunContext = {
    plan,
    workflow: options.workflow,
    runId,
    repoDir: options.repoDir,
    runDir: options.runDir,
    redactor: new Redactor(options.env.secretValues),
    random: options.random ?? Math.random,
    sleep: options.sleep ?? defaultSleep,
    killGraceMs: options.killGraceMs,
    cleanupGraceMs,
    cancel: cancelController.signal,
    force: forceController.signal,
    artifacts,
    workspaces,
    records,
    ...(options.containers ? { containers: options.containers } : {}),
    cache: options.cache,
    workflowEnv: options.env.values,
    secretValues: new Set(options.env.secretValues),
    baseEnv(def) {
      const local = def.kind === "local";
      let env = baseEnvs.get(local);
      if (!env) baseEnvs.set(local, (env = local ? { ...processEnv, ...options.env.values } : { ...options.env.values }));
      return env;
    },
    runStatus() {
      if (userCancelled) return "cancelled";
      return scheduler?.failed ? "failure" : "success";
    },
    emit,
    logBudget(job) {
      let budget = budgets.get(job.id);
      if (!budget) budgets.set(job.id, (budget = new LogBudget(options.logLimit ?? job.logLimitBytes ?? DEFAULT_LOG_LIMIT)));
      return budget;
    },
    sinksReady: () => bus.flow.wait(),
    emitLog(jobId, stepIndex, stream, lines) {
      // built as one literal: this runs once per batch of output lines
      if (lines.length === 0) return;
      if (stepIndex === undefined) bus.emit("log", { runId, jobId, stream, lines });
      else bus.emit("log", { runId, jobId, stepIndex, stream, lines });
    },
  };

  const started = Date.now();
  emit("run.started", {
    // the plan as it may be shown and stored: secrets in scripts and step names masked
    plan: redactPlan(plan, context.redactor),
    jobIds: toRun.map((r) => r.job.id),
    ...(reused.length > 0 ? { reused: reused.map((r) => r.job.id) } : {}),
  });
  for (const record of reused) emitReused(context, record, restored[record.job.id]?.artifacts ?? {});
  let fault: Error | undefined;
  const signal = options.signal;
  const force = options.forceSignal;
  try {
    scheduler = new Scheduler(context, {
      concurrency: options.concurrency,
      failFast: options.failFast,
      jobs: toRun,
      runJob: (record, afterCancel) => runJob(context, record, afterCancel),
      onFault: () => cancelController.abort(cancelReason("the run stopped after an engine error")),
      cancelled: () => userCancelled,
    });
    if (signal.aborted) onCancel();
    else signal.addEventListener("abort", onCancel, { once: true });
    if (force?.aborted) onForce();
    else force?.addEventListener("abort", onForce, { once: true });
    await scheduler.start();
  } catch (error) {
    fault = coerceError(error);
  } finally {
    signal.removeEventListener("abort", onCancel);
    force?.removeEventListener("abort", onForce);
    await workspaces.cleanupAll();
  }

  const status = runStatus(records, userCancelled, fault);
  emit("run.finished", { status, durationMs: Date.now() - started });
  if (fault) throw fault;
  return result(status, records, artifacts, context.redactor);
}

/** A job taken from an earlier run: its result and artifacts, so this run's record is complete. */
function emitReused(run: RunContext, record: JobRunState, artifacts: NonNullable<RestoredJob["artifacts"]>): void {
  const jobId = record.job.id;
  for (const [name, a] of Object.entries(artifacts)) run.emit("artifact.saved", { jobId, name, hash: a.hash, size: a.size ?? 0 });
  const outputs: Record<string, string> = {};
  for (const [key, value] of Object.entries(record.outputs)) outputs[key] = run.redactor.redact(value);
  run.emit("job.finished", { jobId, status: record.status, attempts: 0, durationMs: 0, outputs, reason: record.reason ?? "" });
}

function runStatus(records: ReadonlyMap<string, JobRunState>, cancelled: boolean, fault: Error | undefined): RunStatus {
  if (cancelled) return "cancelled";
  if (fault) return "failure";
  for (const record of records.values()) {
    if (record.origin === "unselected") continue;
    if (record.status === "cancelled") return "cancelled";
    if (isFailure(record.status) && !record.job.continueOnError) return "failure";
  }
  return "success";
}

function result(status: RunStatus, records: ReadonlyMap<string, JobRunState>, artifacts: ArtifactStore, redactor: Redactor): RunResult {
  const jobs: Record<string, JobResult> = {};
  for (const [id, record] of records) {
    if (record.origin === "unselected") continue;
    const outputs: Record<string, string> = {};
    for (const [key, value] of Object.entries(record.outputs)) outputs[key] = redactor.redact(value);
    const base = { status: record.status, attempts: record.attempts, outputs, durationMs: record.durationMs };
    jobs[id] = record.reason === undefined ? base : { ...base, reason: redactor.redact(record.reason) };
  }
  const saved: Record<string, { hash: string; size: number; jobId: string }> = {};
  for (const a of artifacts.list()) saved[a.name] = { hash: a.hash, size: a.size, jobId: a.jobId };
  return { status, jobs, artifacts: saved };
}
