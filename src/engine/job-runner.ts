/**
 * One job, all its attempts. Each attempt: `setupJob`, the job's shell
 * condition (if any), restore input artifacts, steps, save output artifacts,
 * `cleanupJob` (always, with a fresh grace-period signal). The job timeout
 * aborts the attempt's signal with a TimeoutError. A job retry re-runs the
 * whole attempt, fresh setup included, after `nextDelay`.
 */
import type { JobStatus } from "../core/context.js";
import { coerceError, GantryError } from "../core/errors.js";
import type { Executor, JobInfo } from "../core/executor.js";
import type { PlanJob } from "../core/plan-types.js";
import { nextDelay } from "../core/retry.js";
import type { StoredArtifact } from "./artifacts.js";
import { jobCacheKey, restoreCachedJob, restoreCaches, saveCaches, type ResolvedCache } from "./caching.js";
import { setupJobAt } from "./location.js";
import { describeExit, execLogged, lineSink, logMessage } from "./output.js";
import { needResults, type JobRunState, type RunContext } from "./run-context.js";
import { graceSignal, Scope } from "./signals.js";
import { abortedOutcome, conditionContext, evaluatePredicate, runSteps, type JobScope, type Outcome } from "./step-runner.js";

export interface JobOutcome {
  readonly status: JobStatus;
  readonly attempts: number;
  readonly reason?: string;
  readonly outputs: Record<string, string>;
  /** `cache: true`: the key parts to record with the result. */
  readonly cacheKey?: { readonly inputsHash: string; readonly envHash: string };
}

/**
 * Run `record.job`. `afterCancel`: the run was cancelled before the job
 * started (an `always()` or `cancelled()` job), so only the force signal stops it.
 */
export async function runJob(run: RunContext, record: JobRunState, afterCancel: boolean): Promise<JobOutcome> {
  const job = record.job;
  const parent = afterCancel ? run.force : run.cancel;
  const needs = needResults(run, job);

  if (job.if.kind === "fn") {
    const env = jobEnv(run, job, undefined);
    let ok: boolean;
    try {
      ok = await evaluatePredicate(run, job, job.if, conditionContext({ run, job, env, needs } as JobScope));
    } catch (error) {
      return { status: "failure", attempts: 0, outputs: {}, reason: `condition failed: ${coerceError(error).message}` };
    }
    if (!ok) return { status: "skipped", attempts: 0, outputs: {}, reason: "condition was false" };
  }

  const key = job.cache ? await jobCacheKey(run, job) : undefined;
  const cacheKey = key ? { inputsHash: key.inputsHash, envHash: key.envHash } : undefined;
  const cached = key ? await restoreCachedJob(run, job, key) : undefined;
  if (cached) return { ...cached, attempts: 0, ...(cacheKey ? { cacheKey } : {}) };

  const max = Math.max(1, job.retry.attempts);
  let attempt = 1;
  let result: AttemptResult;
  for (; ; attempt++) {
    result = await runJobAttempt(run, job, attempt, parent, needs);
    const failed = result.outcome.status === "failure" || result.outcome.status === "timed_out";
    if (!failed || attempt >= max || parent.aborted) break;
    if (result.final) {
      logMessage(run, lineSink(run, job.id), "system", `not retrying the job: another attempt cannot fix this error`);
      break;
    }
    const delayMs = nextDelay(job.retry, attempt, run.random);
    const reason = run.redactor.redact(result.outcome.reason ?? result.outcome.status);
    run.emit("job.retry", { jobId: job.id, attempt: attempt + 1, delayMs, reason });
    logMessage(run, lineSink(run, job.id), "system", `attempt ${attempt} of ${max} failed (${reason}); retrying the job in ${delayMs}ms`);
    await run.sleep(delayMs, parent);
    if (parent.aborted) break;
  }
  const { outcome, outputs } = result;
  return {
    status: outcome.status,
    attempts: attempt,
    outputs,
    ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}),
    ...(cacheKey ? { cacheKey } : {}),
  };
}

function jobEnv(run: RunContext, job: PlanJob, jobDir: string | undefined): Record<string, string> {
  const def = run.plan.executors[job.executor];
  const env: Record<string, string> = {
    ...(def ? run.baseEnv(def) : {}),
    ...job.env,
    GANTRY: "1",
    GANTRY_RUN_ID: run.runId,
    GANTRY_JOB: job.id,
  };
  if (jobDir !== undefined) env.GANTRY_WORKSPACE = jobDir;
  // The repository the run started from, for local jobs (other executors work on their own copy).
  if (def?.kind === "local") env.GANTRY_REPO = run.repoDir;
  return env;
}

interface AttemptResult {
  readonly outcome: Outcome;
  readonly outputs: Record<string, string>;
  /** The attempt failed on an infrastructure error that says a retry cannot help (`GantryError.retryable` false). */
  readonly final: boolean;
}

async function runJobAttempt(
  run: RunContext,
  job: PlanJob,
  attempt: number,
  parent: AbortSignal,
  needs: JobScope["needs"],
): Promise<AttemptResult> {
  run.emit("job.started", { jobId: job.id, attempt, executor: job.executor });
  const scope = new Scope([parent], job.timeoutMs, "job");
  const info: JobInfo = { runId: run.runId, repoDir: run.repoDir, runDir: run.runDir, job, attempt, signal: scope.signal };
  const outputs: Record<string, string> = {};
  let executor: Executor | undefined;
  let caches: ResolvedCache[] = [];
  let setupCalled = false;
  let outcome: Outcome;
  let final = false;
  const failed = (error: unknown): Outcome => {
    if (scope.signal.aborted) return abortedOutcome(scope.signal);
    if (error instanceof GantryError && !error.retryable) final = true;
    const message = coerceError(error).message;
    logMessage(run, lineSink(run, job.id), "system", message);
    return { status: "failure", reason: message };
  };
  try {
    let jobScope: JobScope | undefined;
    try {
      executor = await run.workspaces.ensure(job);
      if (scope.signal.aborted) return { outcome: abortedOutcome(scope.signal), outputs, final };
      setupCalled = true;
      await setupJobAt(run, executor, info);
      const env = jobEnv(run, job, executor.jobPath?.(info) ?? executor.localJobDir?.(info));
      jobScope = { run, job, info, executor, signal: scope.signal, env, needs, outputs };
      outcome = await shellCondition(jobScope);
      if (outcome.status === "success") {
        await restoreArtifacts(run, job, executor, info);
        caches = await restoreCaches(run, job, executor, info);
      }
    } catch (error) {
      outcome = failed(error);
    }
    // Errors escaping runSteps are engine faults (user and executor errors end up in the outcome): they propagate.
    if (outcome.status === "success" && jobScope) outcome = await runSteps(jobScope);
    if (outcome.status === "success" && executor) {
      try {
        await saveArtifacts(run, job, executor, info);
        await saveCaches(run, job, executor, info, caches);
      } catch (error) {
        outcome = failed(error);
      }
    }
  } finally {
    if (setupCalled && executor) await cleanupJob(run, executor, info);
    scope.dispose();
  }
  if (scope.timedOut && outcome.status !== "success")
    outcome = { status: "timed_out", reason: abortedOutcome(scope.signal).reason ?? "job timed out" };
  return { outcome, outputs, final };
}

async function cleanupJob(run: RunContext, executor: Executor, info: JobInfo): Promise<void> {
  const grace = graceSignal(run.cleanupGraceMs, `cleanup of job "${info.job.id}"`);
  try {
    await executor.cleanupJob({ ...info, signal: grace.signal });
  } catch (error) {
    logMessage(run, lineSink(run, info.job.id), "system", `cleanup failed: ${coerceError(error).message}`);
  } finally {
    grace.dispose();
  }
}

/** The job-level shell condition, run in the job directory after `setupJob`: exit 0 means run. */
async function shellCondition(scope: JobScope): Promise<Outcome> {
  const { run, job } = scope;
  if (job.if.kind !== "sh") return { status: "success" };
  const result = await execLogged(
    run,
    scope.executor,
    scope.info,
    { script: job.if.run, env: scope.env, signal: scope.signal, killGraceMs: run.force.aborted ? 0 : run.killGraceMs },
    lineSink(run, job.id),
  );
  if (scope.signal.aborted) return abortedOutcome(scope.signal);
  if (result.exitCode === 0 && !result.timedOut && !result.cancelled) return { status: "success" };
  return { status: "skipped", reason: `condition \`${job.if.run}\` did not hold (${describeExit(result)})` };
}

async function restoreArtifacts(run: RunContext, job: PlanJob, executor: Executor, info: JobInfo): Promise<void> {
  for (const input of job.inputs.artifacts) {
    const artifact = run.artifacts.find(input.name, input.from);
    if (!artifact) {
      const unrun = input.from.filter((id) => run.records.get(id)?.origin === "unselected");
      const names = input.from.map((id) => `"${id}"`).join(", ");
      throw new GantryError(
        "ARTIFACT_INVALID",
        unrun.length > 0
          ? `input artifact "${input.name}" comes from ${names}, which did not run in this run (it was left out by the job selection)`
          : `input artifact "${input.name}": none of ${names} produced it`,
      );
    }
    const tar = await run.artifacts.open(artifact);
    try {
      await executor.writeFiles(info, input.path, tar);
    } catch (error) {
      throw new GantryError(
        error instanceof GantryError && error.code === "BLOB_CORRUPT" ? "BLOB_CORRUPT" : "ARTIFACT_INVALID",
        `input artifact "${input.name}" could not be restored to "${input.path}": ${coerceError(error).message}`,
        {
          cause: error,
        },
      );
    } finally {
      tar.destroy();
    }
    run.emit("artifact.restored", { jobId: job.id, name: input.name, path: input.path, hash: artifact.hash });
  }
}

async function saveArtifacts(run: RunContext, job: PlanJob, executor: Executor, info: JobInfo): Promise<void> {
  const saved: StoredArtifact[] = [];
  for (const output of job.outputs.artifacts) {
    let stored: StoredArtifact;
    try {
      const tar = await executor.readFiles(info, output.path);
      stored = await run.artifacts.save(output.name, job.id, tar, info.signal);
    } catch (error) {
      if (info.signal.aborted) throw error;
      throw new GantryError(
        "ARTIFACT_INVALID",
        `output artifact "${output.name}" ("${output.path}") could not be saved: ${coerceError(error).message}`,
        {
          cause: error,
        },
      );
    }
    saved.push(stored);
  }
  for (const artifact of saved) {
    run.artifacts.register(artifact);
    run.emit("artifact.saved", { jobId: job.id, name: artifact.name, hash: artifact.hash, size: artifact.size });
  }
}
