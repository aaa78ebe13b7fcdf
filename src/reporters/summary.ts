/**
 * Per-job final status, attempts and duration, computed from events only.
 * `summarize(events)` is pure; `RunTracker` is the incremental form the
 * reporters feed one event at a time (`summarize` is a loop over it).
 */
import type { JobStatus, RunStatus, StepStatus } from "../core/context.js";
import type { GantryEvent } from "../core/events.js";

export interface StepSummary {
  readonly index: number;
  name: string;
  status: StepStatus | "queued";
  attempts: number;
  /** From the plan: how many attempts the retry policy allows (1 = no retry). */
  maxAttempts: number | undefined;
  exitCode: number | null;
  durationMs: number | undefined;
  startedAt: number | undefined;
  reason: string | undefined;
}

export interface JobSummary {
  readonly id: string;
  status: JobStatus;
  /** Attempts made so far (the final count once finished). */
  attempts: number;
  /** From the plan: how many attempts the job's retry policy allows. */
  maxAttempts: number | undefined;
  executor: string | undefined;
  /** `ts` of the first `job.started`. */
  startedAt: number | undefined;
  /** `ts` of the latest `job.started` (the current attempt). */
  attemptStartedAt: number | undefined;
  finishedAt: number | undefined;
  /** Final duration, from `job.finished`. */
  durationMs: number | undefined;
  reason: string | undefined;
  /** Index of the step running now, if any. */
  currentStep: number | undefined;
  /** When a retry of the job is pending: when it will start. */
  retryAt: number | undefined;
  /** Taken from an earlier run (`run.started.reused`), not run in this one. */
  reused: boolean;
  steps: StepSummary[];
}

export interface RunSummary {
  runId: string | undefined;
  workflow: string | undefined;
  planHash: string | undefined;
  status: RunStatus;
  startedAt: number | undefined;
  durationMs: number | undefined;
  /** Jobs in plan order (then first-seen order for jobs the plan did not list). */
  readonly jobs: Map<string, JobSummary>;
}

export type StatusCounts = Partial<Record<JobStatus, number>>;

export class RunTracker {
  readonly summary: RunSummary = {
    runId: undefined,
    workflow: undefined,
    planHash: undefined,
    status: "running",
    startedAt: undefined,
    durationMs: undefined,
    jobs: new Map(),
  };

  job(id: string): JobSummary {
    let job = this.summary.jobs.get(id);
    if (!job) {
      job = {
        id,
        status: "queued",
        attempts: 0,
        maxAttempts: undefined,
        executor: undefined,
        startedAt: undefined,
        attemptStartedAt: undefined,
        finishedAt: undefined,
        durationMs: undefined,
        reason: undefined,
        currentStep: undefined,
        retryAt: undefined,
        reused: false,
        steps: [],
      };
      this.summary.jobs.set(id, job);
    }
    return job;
  }

  step(job: JobSummary, index: number, name?: string): StepSummary {
    let step = job.steps[index];
    if (!step) {
      step = {
        index,
        name: name ?? `step ${index + 1}`,
        status: "queued",
        attempts: 0,
        maxAttempts: undefined,
        exitCode: null,
        durationMs: undefined,
        startedAt: undefined,
        reason: undefined,
      };
      job.steps[index] = step;
    }
    if (name !== undefined) step.name = name;
    return step;
  }

  /** Name of a step for display: the one the events or the plan gave, else `step N`. */
  stepName(jobId: string, index: number): string {
    return this.summary.jobs.get(jobId)?.steps[index]?.name ?? `step ${index + 1}`;
  }

  apply(e: GantryEvent): void {
    const run = this.summary;
    switch (e.type) {
      case "run.started": {
        run.runId = e.runId;
        run.workflow = e.plan.workflow.name;
        run.planHash = e.plan.hash;
        run.startedAt = e.ts;
        run.status = "running";
        for (const planJob of e.plan.jobs) {
          const job = this.job(planJob.id);
          job.maxAttempts = planJob.retry.attempts;
          for (const planStep of planJob.steps) this.step(job, planStep.index, planStep.name).maxAttempts = planStep.retry.attempts;
        }
        for (const id of e.jobIds) this.job(id);
        for (const id of e.reused ?? []) this.job(id).reused = true;
        return;
      }
      case "run.finished":
        run.runId ??= e.runId;
        run.status = e.status;
        run.durationMs = e.durationMs;
        return;
      case "job.started": {
        const job = this.job(e.jobId);
        job.status = "running";
        job.attempts = Math.max(job.attempts, e.attempt);
        job.executor = e.executor;
        job.startedAt ??= e.ts;
        job.attemptStartedAt = e.ts;
        job.retryAt = undefined;
        job.currentStep = undefined;
        return;
      }
      case "job.retry": {
        const job = this.job(e.jobId);
        job.retryAt = e.ts + e.delayMs;
        job.currentStep = undefined;
        return;
      }
      case "job.finished": {
        const job = this.job(e.jobId);
        job.status = e.status;
        job.attempts = e.attempts;
        job.durationMs = e.durationMs;
        job.finishedAt = e.ts;
        job.reason = e.reason;
        job.currentStep = undefined;
        job.retryAt = undefined;
        return;
      }
      case "step.started": {
        const job = this.job(e.jobId);
        const step = this.step(job, e.stepIndex, e.name);
        step.status = "running";
        step.attempts = Math.max(step.attempts, e.attempt);
        step.startedAt = e.ts;
        job.currentStep = e.stepIndex;
        return;
      }
      case "step.retry":
        return;
      case "step.finished": {
        const job = this.job(e.jobId);
        const step = this.step(job, e.stepIndex, e.name);
        step.status = e.status;
        step.attempts = e.attempts;
        step.exitCode = e.exitCode;
        step.durationMs = e.durationMs;
        step.reason = e.reason;
        if (job.currentStep === e.stepIndex) job.currentStep = undefined;
        return;
      }
      default:
        return;
    }
  }
}

/** Fold a sequence of events into a run summary. Pure. */
export function summarize(events: Iterable<GantryEvent>): RunSummary {
  const tracker = new RunTracker();
  for (const e of events) tracker.apply(e);
  return tracker.summary;
}

/** Duration of a job: final when finished, else elapsed since its first start at `now`. */
export function jobDuration(job: JobSummary, now: number): number | undefined {
  if (job.durationMs !== undefined) return job.durationMs;
  if (job.startedAt === undefined) return undefined;
  return Math.max(0, now - job.startedAt);
}

export function countByStatus(summary: RunSummary): StatusCounts {
  const counts: StatusCounts = {};
  for (const job of summary.jobs.values()) counts[job.status] = (counts[job.status] ?? 0) + 1;
  return counts;
}

/** The failed steps of a job (failure or timed out), in order. */
export function failedSteps(job: JobSummary): StepSummary[] {
  return job.steps.filter((s) => s !== undefined && (s.status === "failure" || s.status === "timed_out"));
}
