/**
 * The scheduler's decisions, as pure functions: one state machine shared by
 * `gantry run` (the engine's in-memory scheduler) and the server (which keeps
 * the state in the store and advances it one transaction per transition).
 *
 * A job of a run is `queued` until it is decided; it is decided once every
 * job it needs is final. The decision, in this order:
 *
 * | situation                                   | `success()` (default)         | `failure()`                 | `always()`          | `cancelled()`       |
 * | ------------------------------------------- | ----------------------------- | --------------------------- | ------------------- | ------------------- |
 * | the run stopped after an engine error        | skip                          | skip                        | skip                | skip                |
 * | the run was cancelled a second time (forced) | skip                          | skip                        | skip                | skip                |
 * | the run was cancelled                        | skip                          | skip                        | run (after cancel)  | run (after cancel)  |
 * | a need failed / timed out / was skipped     | skip ("needs X, which failed") | run if any ANCESTOR failed  | run                 | skip                |
 * | fail-fast and some job failed               | skip ("fail-fast")            | (as above)                  | run                 | skip                |
 * | otherwise                                   | run                           | skip                        | run                 | skip                |
 *
 * Fail-fast: by default a failure skips only what needs the failed job (as
 * GitHub Actions, GitLab and Buildkite do); `failFast` on the workflow (or
 * `gantry run --fail-fast`) skips every job not started yet after the first
 * failure, and `failFast` on a matrix job skips the combinations of that job
 * not started yet when one of them failed. A failure under `continueOnError`
 * counts as a success everywhere.
 *
 * Shell and function conditions are not decided here: they run on the
 * worker, once this function said "run" (the job is then skipped there when
 * the condition does not hold).
 */
import type { JobStatus, RunStatus } from "./context.js";
import { evaluateStatusCondition } from "./conditions.js";
import type { PlanCondition } from "./plan-types.js";

/** What the decision needs to know about a job (a `PlanJob` has all of it). */
export interface ScheduledJob {
  readonly id: string;
  readonly key: string;
  readonly needs: readonly string[];
  readonly if: PlanCondition;
  readonly continueOnError: boolean;
  readonly failFast?: boolean;
}

/** The state of the run a decision looks at. */
export interface RunView {
  /** The job's status as it ended (raw, before `continueOnError`); undefined for a job that is not part of the run. */
  status(id: string): JobStatus | undefined;
  job(id: string): ScheduledJob | undefined;
  /** The user cancelled the run. */
  readonly cancelled: boolean;
  /** The user cancelled it a second time: `always()`/`cancelled()` jobs do not start either. */
  readonly forced: boolean;
  /** The engine (or the server) stopped the run after an internal error. */
  readonly faulted: boolean;
  /** The run's fail-fast: the workflow's `failFast`, or `--fail-fast`. */
  readonly failFast: boolean;
  /** Some job failed and its failure counts (not `continueOnError`). */
  readonly failed: boolean;
  /** Keys of matrix jobs with `failFast` one combination of which failed (and counts). */
  readonly failedKeys: ReadonlySet<string>;
}

export type JobDecision = { readonly run: true; readonly afterCancel: boolean } | { readonly run: false; readonly reason: string };

const FINAL: ReadonlySet<JobStatus> = new Set(["success", "failure", "cancelled", "skipped", "timed_out", "cached"]);

export function isFinalStatus(status: JobStatus | undefined): boolean {
  return status !== undefined && FINAL.has(status);
}

export function isFailedStatus(status: JobStatus | undefined): boolean {
  return status === "failure" || status === "timed_out";
}

/** The status a need shows its dependants: a failure under `continueOnError` is a success; a job outside the run is skipped. */
export function effectiveNeedStatus(view: Pick<RunView, "status" | "job">, id: string): JobStatus {
  const status = view.status(id);
  if (status === undefined) return "skipped";
  if (isFailedStatus(status) && view.job(id)?.continueOnError) return "success";
  return status;
}

/** Whether a job's failure counts for fail-fast and the run's status. */
export function failureCounts(job: ScheduledJob, status: JobStatus | undefined): boolean {
  return isFailedStatus(status) && !job.continueOnError;
}

/** Decide a job whose needs are all final. */
export function decideJob(job: ScheduledJob, view: RunView): JobDecision {
  if (view.faulted) return { run: false, reason: "the run stopped after an engine error" };
  const condition = job.if.kind === "status" ? job.if.status : "success";
  if (view.forced) return { run: false, reason: "the run was cancelled" };
  if (view.cancelled) {
    if (condition === "always" || condition === "cancelled") return { run: true, afterCancel: true };
    return { run: false, reason: "the run was cancelled" };
  }
  const needs = condition === "failure" ? ancestorStatuses(job, view) : job.needs.map((id) => effectiveNeedStatus(view, id));
  if (!evaluateStatusCondition(condition, { needs, runCancelled: false })) return { run: false, reason: skipReason(job, condition, view) };
  if (condition === "success") {
    if (view.failFast && view.failed) return { run: false, reason: "an earlier job failed (fail-fast)" };
    if (job.failFast && view.failedKeys.has(job.key)) return { run: false, reason: `another "${job.key}" combination failed (fail-fast)` };
  }
  return { run: true, afterCancel: false };
}

/** Statuses of all transitive needs: `failure()` holds when any ancestor failed, as in GitHub Actions. */
function ancestorStatuses(job: ScheduledJob, view: RunView): JobStatus[] {
  const seen = new Set<string>();
  const stack = [...job.needs];
  const out: JobStatus[] = [];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(effectiveNeedStatus(view, id));
    stack.push(...(view.job(id)?.needs ?? []));
  }
  return out;
}

function skipReason(job: ScheduledJob, condition: string, view: RunView): string {
  if (condition !== "success") return `condition ${condition}() did not hold`;
  for (const id of job.needs) {
    const need = effectiveNeedStatus(view, id);
    if (need === "success" || need === "cached") continue;
    const how = need === "failure" ? "failed" : need === "timed_out" ? "timed out" : need === "skipped" ? "was skipped" : `ended ${need}`;
    return `needs "${id}", which ${how}`;
  }
  return "condition success() did not hold";
}

/** The facts fail-fast needs, computed from every job's status (the server's view; the engine keeps them incrementally). */
export function failureFacts(
  jobs: readonly ScheduledJob[],
  status: (id: string) => JobStatus | undefined,
): { failed: boolean; failedKeys: Set<string> } {
  let failed = false;
  const failedKeys = new Set<string>();
  for (const job of jobs) {
    if (!failureCounts(job, status(job.id))) continue;
    failed = true;
    if (job.failFast) failedKeys.add(job.key);
  }
  return { failed, failedKeys };
}

/**
 * The jobs to decide now: those still `queued` (and not handed out yet, per
 * `decided`) whose needs are all final, with their decision. Deciding a job
 * final (skipped) can make its dependants decidable: call again until it
 * returns nothing (the server does so inside one transaction).
 */
export function readyDecisions<J extends ScheduledJob>(
  jobs: readonly J[],
  view: RunView,
  decided: (id: string) => boolean,
): { readonly job: J; readonly decision: JobDecision }[] {
  const out: { job: J; decision: JobDecision }[] = [];
  for (const job of jobs) {
    if (view.status(job.id) !== "queued" || decided(job.id)) continue;
    if (!job.needs.every((id) => view.status(id) === undefined || isFinalStatus(view.status(id)))) continue;
    out.push({ job, decision: decideJob(job, view) });
  }
  return out;
}

/** The run's status once every job is final. */
export function finalRunStatus(
  jobs: readonly ScheduledJob[],
  status: (id: string) => JobStatus | undefined,
  flags: { readonly cancelled: boolean; readonly faulted: boolean },
): RunStatus {
  if (flags.cancelled) return "cancelled";
  if (flags.faulted) return "failure";
  for (const job of jobs) {
    const s = status(job.id);
    if (s === "cancelled") return "cancelled";
    if (failureCounts(job, s)) return "failure";
  }
  return "success";
}
