/**
 * Executors deduplicated by name. `setupWorkspace` runs once per executor,
 * lazily, when its first job starts (jobs that start meanwhile wait for the
 * same promise); `cleanupWorkspace` runs once, when no remaining job can use
 * it, and always at the end of the run for any workspace still set up —
 * also after a failed setup, a cancel, or an engine fault. Cleanup gets a
 * fresh grace-period signal created when cleanup starts.
 */
import { coerceError, GantryError } from "../core/errors.js";
import type { EventName, GantryEvents } from "../core/events.js";
import type { Executor, WorkspaceInfo } from "../core/executor.js";
import type { Plan, PlanExecutor, PlanJob } from "../core/plan-types.js";
import { graceSignal } from "./signals.js";

export interface WorkspacePoolOptions {
  readonly plan: Plan;
  readonly runId: string;
  readonly repoDir: string;
  readonly runDir: string;
  readonly executorFor: (def: PlanExecutor) => Executor;
  readonly cleanupGraceMs: number;
  readonly cancel: AbortSignal;
  readonly force: AbortSignal;
  readonly emit: <K extends EventName>(type: K, payload: Omit<GantryEvents[K], "ts" | "runId">) => void;
}

interface Entry {
  readonly def: PlanExecutor;
  readonly jobs: PlanJob[];
  remaining: number;
  executor?: Executor;
  setup?: Promise<Executor>;
  cleanup?: Promise<void>;
}

export class WorkspacePool {
  private readonly entries = new Map<string, Entry>();
  private readonly cleanups: Array<Promise<void>> = [];

  constructor(private readonly options: WorkspacePoolOptions) {}

  /** Count `job` as a user of its executor. Call for every job that may run, before the run starts. */
  add(job: PlanJob): void {
    let entry = this.entries.get(job.executor);
    if (!entry) {
      const def = this.options.plan.executors[job.executor];
      if (!def) throw new GantryError("PLAN_INVALID", `job "${job.id}" uses executor "${job.executor}", which the plan does not define`);
      entry = { def, jobs: [], remaining: 0 };
      this.entries.set(job.executor, entry);
    }
    entry.jobs.push(job);
    entry.remaining++;
  }

  /** The job's executor, its workspace set up (once). Rejects when the setup failed. */
  ensure(job: PlanJob): Promise<Executor> {
    const entry = this.entry(job);
    entry.setup ??= this.setup(entry);
    return entry.setup;
  }

  /** `job` reached a final status: when it was the executor's last job, clean the workspace up now. */
  release(job: PlanJob): void {
    const entry = this.entry(job);
    entry.remaining--;
    if (entry.remaining <= 0) this.startCleanup(entry);
  }

  /** Clean up every workspace still set up, and wait for all cleanups. Never throws. */
  async cleanupAll(): Promise<void> {
    for (const entry of this.entries.values()) this.startCleanup(entry);
    await Promise.all(this.cleanups);
  }

  private entry(job: PlanJob): Entry {
    const entry = this.entries.get(job.executor);
    if (!entry) throw new GantryError("INTERNAL", `job "${job.id}" was not registered with its executor "${job.executor}"`);
    return entry;
  }

  private info(entry: Entry, signal: AbortSignal): WorkspaceInfo {
    const { runId, repoDir, runDir } = this.options;
    return { runId, repoDir, runDir, executor: entry.def, jobs: entry.jobs, signal };
  }

  private async setup(entry: Entry): Promise<Executor> {
    const started = Date.now();
    const name = entry.def.name;
    try {
      const executor = this.options.executorFor(entry.def);
      entry.executor = executor;
      const { cancel, force } = this.options;
      await executor.setupWorkspace(this.info(entry, cancel.aborted ? force : cancel));
      this.options.emit("executor.setup", { executor: name, durationMs: Date.now() - started });
      return executor;
    } catch (error) {
      const message = coerceError(error).message;
      this.options.emit("executor.setup", { executor: name, durationMs: Date.now() - started, error: message });
      const retryable = error instanceof GantryError && error.retryable;
      throw new GantryError("EXECUTOR_FAILED", `executor "${name}" could not be set up: ${message}`, { cause: error, retryable });
    }
  }

  private startCleanup(entry: Entry): void {
    if (!entry.setup || entry.cleanup) return;
    entry.cleanup = this.cleanup(entry, entry.setup);
    this.cleanups.push(entry.cleanup);
  }

  private async cleanup(entry: Entry, setup: Promise<Executor>): Promise<void> {
    await setup.catch(() => undefined);
    const executor = entry.executor;
    if (!executor) return; // the executor could not even be built: nothing to clean
    const started = Date.now();
    const grace = graceSignal(this.options.cleanupGraceMs, `cleanup of executor "${entry.def.name}"`);
    try {
      await executor.cleanupWorkspace(this.info(entry, grace.signal));
      this.options.emit("executor.cleanup", { executor: entry.def.name, durationMs: Date.now() - started });
    } catch (error) {
      this.options.emit("executor.cleanup", {
        executor: entry.def.name,
        durationMs: Date.now() - started,
        error: coerceError(error).message,
      });
    } finally {
      grace.dispose();
    }
  }
}
