/**
 * The ready set. A job becomes ready when all its needs are final
 * (indegree counts and dependants lists, no scans over all jobs); ready jobs
 * are taken in order, their condition decides (without taking a slot) whether
 * they are skipped, and up to `concurrency` of them run at once.
 *
 * The decision itself (run, skip and why) is `decideJob` in `core/schedule.ts`,
 * shared with the server's orchestrator; this class only feeds it.
 *
 * - fail-fast (off by default): after a failure, jobs not started yet are
 *   skipped unless their condition is `always()`, `failure()` or
 *   `cancelled()`; without it a failure skips only what needs the failed job.
 * - cancel: running jobs are stopped (their signal aborts); jobs not started
 *   are skipped, except `always()` / `cancelled()` jobs, which run under the
 *   force signal only.
 * - engine fault: everything not started is skipped, running jobs are stopped,
 *   and `run()` rejects with the fault once nothing runs any more.
 */
import { coerceError } from "../core/errors.js";
import type { PlanJob } from "../core/plan-types.js";
import { decideJob, failureCounts, type JobDecision, type RunView } from "../core/schedule.js";
import type { JobOutcome } from "./job-runner.js";
import type { JobRunState, RunContext } from "./run-context.js";

export interface SchedulerOptions {
  readonly concurrency: number;
  readonly failFast: boolean;
  /** Jobs to run, in plan order. Their needs are either among them or final already. */
  readonly jobs: readonly JobRunState[];
  readonly runJob: (record: JobRunState, afterCancel: boolean) => Promise<JobOutcome>;
  /** Called once on an engine fault: the run must stop (abort the cancel signal). */
  readonly onFault: (error: Error) => void;
  /** Whether the run was cancelled by the user (not by a fault). */
  readonly cancelled: () => boolean;
}

export class Scheduler {
  private readonly pending = new Map<string, number>();
  private readonly dependants = new Map<string, JobRunState[]>();
  private readonly queue: JobRunState[] = [];
  private head = 0;
  private running = 0;
  private remaining: number;
  private fault: Error | undefined;
  /** Some job failed (and its failure counts). */
  failed = false;
  /** Keys of matrix jobs with `failFast` one combination of which failed. */
  private readonly failedKeys = new Set<string>();
  /** What `decideJob` (core/schedule.ts) looks at: this run's records and flags. */
  private readonly view: RunView;
  private settle: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(
    private readonly run: RunContext,
    private readonly options: SchedulerOptions,
  ) {
    this.remaining = options.jobs.length;
    const faulted = (): boolean => this.fault !== undefined;
    const failed = (): boolean => this.failed;
    this.view = {
      status: (id) => run.records.get(id)?.status,
      job: (id) => run.records.get(id)?.job,
      get cancelled() {
        return options.cancelled();
      },
      get forced() {
        return run.force.aborted;
      },
      get faulted() {
        return faulted();
      },
      failFast: options.failFast,
      get failed() {
        return failed();
      },
      failedKeys: this.failedKeys,
    };
    const toRun = new Set(options.jobs.map((r) => r.job.id));
    for (const record of options.jobs) {
      let count = 0;
      for (const need of record.job.needs) {
        if (!toRun.has(need)) continue;
        count++;
        let list = this.dependants.get(need);
        if (!list) this.dependants.set(need, (list = []));
        list.push(record);
      }
      this.pending.set(record.job.id, count);
      if (count === 0) this.queue.push(record);
    }
  }

  /** Resolves when every job is final; rejects with the engine fault, if there was one. */
  start(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
    this.pump();
    return done;
  }

  /** Re-evaluate the ready queue (after a cancel). */
  wake(): void {
    if (this.settle) this.pump();
  }

  private pump(): void {
    try {
      this.fill();
    } catch (error) {
      this.abort(coerceError(error));
    }
    this.checkDone();
  }

  private fill(): void {
    while (this.head < this.queue.length) {
      const record = this.queue[this.head] as JobRunState;
      const decision = this.decide(record.job);
      if (!decision.run) {
        this.head++;
        this.finish(record, { status: "skipped", attempts: 0, outputs: {}, reason: decision.reason });
        continue;
      }
      if (this.running >= this.options.concurrency) return;
      this.head++;
      this.launch(record, decision.afterCancel);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private launch(record: JobRunState, afterCancel: boolean): void {
    this.running++;
    record.status = "running";
    const startedAt = Date.now();
    void this.options
      .runJob(record, afterCancel)
      .then(
        (outcome) => this.finish(record, outcome, startedAt),
        (error: unknown) => {
          const fault = coerceError(error);
          this.abort(fault);
          this.finish(
            record,
            { status: "failure", attempts: Math.max(1, record.attempts), outputs: {}, reason: `engine error: ${fault.message}` },
            startedAt,
          );
        },
      )
      .catch((error: unknown) => this.abort(coerceError(error)))
      .finally(() => {
        this.running--;
        this.pump();
      });
  }

  private decide(job: PlanJob): JobDecision {
    return decideJob(job, this.view);
  }

  private finish(record: JobRunState, outcome: JobOutcome, startedAt?: number): void {
    if (record.status !== "queued" && record.status !== "running") return; // final already
    record.status = outcome.status;
    record.attempts = outcome.attempts;
    record.outputs = outcome.outputs;
    record.durationMs = startedAt === undefined ? 0 : Date.now() - startedAt;
    if (outcome.reason !== undefined) record.reason = outcome.reason;
    this.remaining--;
    if (failureCounts(record.job, outcome.status)) {
      this.failed = true;
      if (record.job.failFast) this.failedKeys.add(record.job.key);
    }
    const { redactor } = this.run;
    const budget = this.run.logBudget(record.job);
    if (budget.dropped > 0) this.run.emitLog(record.job.id, undefined, "system", [budget.summary()]);
    const outputs: Record<string, string> = {};
    for (const [key, value] of Object.entries(outcome.outputs)) outputs[key] = redactor.redact(value);
    this.run.emit("job.finished", {
      jobId: record.job.id,
      status: outcome.status,
      attempts: outcome.attempts,
      durationMs: record.durationMs,
      outputs,
      ...(outcome.reason !== undefined ? { reason: redactor.redact(outcome.reason) } : {}),
      ...(outcome.cacheKey ? { cacheKey: outcome.cacheKey } : {}),
      ...(budget.dropped > 0 ? { logLimit: budget.limit, logTruncatedBytes: budget.dropped } : {}),
    });
    this.run.workspaces.release(record.job);
    for (const dependant of this.dependants.get(record.job.id) ?? []) {
      const left = (this.pending.get(dependant.job.id) ?? 1) - 1;
      this.pending.set(dependant.job.id, left);
      if (left === 0) this.queue.push(dependant);
    }
  }

  /** An engine fault: stop the run; jobs not started are skipped by `decide`. */
  private abort(error: Error): void {
    if (this.fault) return;
    this.fault = error;
    try {
      this.options.onFault(error);
    } catch {
      // the fault is reported by run(); nothing more to do here
    }
  }

  private checkDone(): void {
    if (!this.settle) return;
    if (this.fault && this.running === 0) {
      // jobs that never became ready (or whose pump broke) end skipped, so nothing waits for them
      for (const record of this.options.jobs) {
        if (record.status === "queued") this.finishQuietly(record);
      }
    }
    if (this.remaining > 0 || this.running > 0) return;
    const settle = this.settle;
    this.settle = undefined;
    if (this.fault) settle.reject(this.fault);
    else settle.resolve();
  }

  private finishQuietly(record: JobRunState): void {
    try {
      this.finish(record, { status: "skipped", attempts: 0, outputs: {}, reason: "the run stopped after an engine error" });
    } catch {
      record.status = "skipped";
      this.remaining--;
    }
  }
}
