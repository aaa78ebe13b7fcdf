/**
 * The steps of one job attempt, in order: condition, retry loop (with
 * `nextDelay` between attempts), per-attempt timeout, continueOnError.
 *
 * After a failure only steps whose condition allows it run (`always()`,
 * `failure()`); after the job was cancelled or timed out, only `always()` and
 * `cancelled()` steps run, under the force signal instead of the (aborted)
 * job signal. Every step ends with one `step.finished`, skipped ones too.
 */
import { evaluateStatusCondition } from "../core/conditions.js";
import type { ConditionContext, JobStatus, NeedResult, StepStatus } from "../core/context.js";
import { coerceError, GantryError } from "../core/errors.js";
import { runInputs } from "../core/inputs.js";
import type { EphemeralContainer } from "../core/ephemeral.js";
import type { Executor, JobInfo } from "../core/executor.js";
import type { PlanCondition, PlanJob, PlanStep } from "../core/plan-types.js";
import { findPredicate, findStepFunction } from "../core/resolve.js";
import { nextDelay } from "../core/retry.js";
import { execTarget, openEphemeral } from "./ephemeral.js";
import { abortMessage, describeExit, execLogged, lineSink, logMessage, type LineSink } from "./output.js";
import { envWith, type RunContext } from "./run-context.js";
import { createStepContext, StepError } from "./step-context.js";
import { isTimeoutReason, Scope, whenAborted } from "./signals.js";
import { userFrames } from "./user-errors.js";

export interface JobScope {
  readonly run: RunContext;
  readonly job: PlanJob;
  readonly info: JobInfo;
  readonly executor: Executor;
  /** The job's signal (run cancel + job timeout). */
  readonly signal: AbortSignal;
  readonly env: Readonly<Record<string, string>>;
  readonly needs: Readonly<Record<string, NeedResult>>;
  readonly outputs: Record<string, string>;
}

export interface Outcome {
  readonly status: "success" | "failure" | "timed_out" | "cancelled" | "skipped";
  readonly reason?: string;
  readonly exitCode?: number | null;
}

const SUCCESS: Outcome = { status: "success" };

/** How a stopped piece of work ended: a timeout reason means timed_out, anything else cancelled. */
export function abortedOutcome(signal: AbortSignal): Outcome {
  return { status: isTimeoutReason(signal.reason) ? "timed_out" : "cancelled", reason: abortMessage(signal.reason) };
}

export function conditionContext(scope: JobScope): ConditionContext {
  const { run, job } = scope;
  return {
    job: job.id,
    matrix: job.matrix,
    inputs: runInputs(run.plan),
    env: scope.env,
    needs: scope.needs,
    get runStatus() {
      return run.runStatus();
    },
  };
}

/** Evaluate a predicate (`if: (ctx) => boolean`) found in the workflow module. */
export async function evaluatePredicate(
  run: RunContext,
  job: PlanJob,
  condition: PlanCondition & { kind: "fn" },
  ctx: ConditionContext,
): Promise<boolean> {
  if (!run.workflow)
    throw new GantryError("LOAD_FAILED", `condition ${condition.ref} is a function, but the run has no workflow module to find it in`);
  const predicate = findPredicate(run.workflow, job, condition.ref);
  return Boolean(await predicate(ctx));
}

/** Run every step of the job; the outcome is that of the first step that failed the job. */
export async function runSteps(scope: JobScope): Promise<Outcome> {
  const { run, job } = scope;
  const before: JobStatus[] = [];
  let outcome: Outcome = SUCCESS;
  for (const step of job.steps) {
    const sink = lineSink(run, job.id, step.index);
    const stopped = scope.signal.aborted;
    const base = stopped ? run.force : scope.signal;
    const started = Date.now();
    let decision: Outcome;
    try {
      decision = await shouldRun(scope, step, before, stopped, base, sink);
    } catch (error) {
      decision = { status: "failure", reason: `condition failed: ${coerceError(error).message}` };
    }
    if (decision.status !== "success") {
      const status = decision.status === "skipped" ? "skipped" : decision.status;
      finishStep(run, job, step, status, 0, null, started, decision.reason);
      if (status === "skipped") {
        // a step left out because the job was stopped makes the job cancelled / timed out
        if (stopped && outcome.status === "success") outcome = abortedOutcome(scope.signal);
        continue;
      }
      before.push(status);
      if (outcome.status === "success") outcome = { status, reason: jobReason(step, decision) };
      continue;
    }
    const result = await runWithRetry(scope, step, base, sink);
    const failed = result.outcome.status === "failure" || result.outcome.status === "timed_out";
    before.push(failed && step.continueOnError ? "success" : result.outcome.status);
    if (outcome.status === "success" && result.outcome.status !== "success" && !(failed && step.continueOnError)) {
      outcome = { status: result.outcome.status, reason: jobReason(step, result.outcome) };
    }
  }
  return outcome;
}

/** The job's reason when `step` ended it. */
function jobReason(step: PlanStep, outcome: Outcome): string {
  switch (outcome.status) {
    case "timed_out":
      return outcome.reason && outcome.reason !== "timed out" ? outcome.reason : `step "${step.name}" timed out`;
    case "cancelled":
      return `step "${step.name}" was cancelled`;
    default:
      return `step "${step.name}" failed: ${outcome.reason ?? outcome.status}`;
  }
}

async function shouldRun(
  scope: JobScope,
  step: PlanStep,
  before: readonly JobStatus[],
  stopped: boolean,
  signal: AbortSignal,
  sink: LineSink,
): Promise<Outcome> {
  const condition = step.if ?? { kind: "status", status: "success" };
  const input = { needs: before, runCancelled: stopped, level: "step" as const };
  if (condition.kind === "status") {
    if (evaluateStatusCondition(condition.status, input)) return SUCCESS;
    return { status: "skipped", reason: stopped ? "the job was stopped" : `condition ${condition.status}() did not hold` };
  }
  // Shell conditions and predicates imply success(), as in GitHub Actions.
  if (!evaluateStatusCondition("success", input)) {
    return { status: "skipped", reason: stopped ? "the job was stopped" : "an earlier step failed" };
  }
  if (condition.kind === "fn") {
    const ok = await evaluatePredicate(scope.run, scope.job, condition, conditionContext(scope));
    return ok ? SUCCESS : { status: "skipped", reason: "condition was false" };
  }
  const result = await execLogged(
    scope.run,
    scope.executor,
    scope.info,
    { script: condition.run, env: envWith(scope.env, step.env), cwd: step.workdir, signal, killGraceMs: killGrace(scope.run) },
    sink,
  );
  if (signal.aborted) return abortedOutcome(signal);
  if (result.timedOut || result.cancelled) return { status: result.timedOut ? "timed_out" : "cancelled", reason: "condition was stopped" };
  return result.exitCode === 0
    ? SUCCESS
    : { status: "skipped", reason: `condition exited with ${describeExit(result).replace("exit code ", "")}` };
}

function killGrace(run: RunContext): number | undefined {
  return run.force.aborted ? 0 : run.killGraceMs;
}

interface StepResult {
  readonly outcome: Outcome;
  readonly attempts: number;
}

async function runWithRetry(scope: JobScope, step: PlanStep, base: AbortSignal, sink: LineSink): Promise<StepResult> {
  const { run, job } = scope;
  const started = Date.now();
  const max = Math.max(1, step.retry.attempts);
  // a default name is the script's first line: it may hold a secret interpolated at definition time
  const name = run.redactor.redact(step.name);
  run.emit("step.started", { jobId: job.id, stepIndex: step.index, name, attempt: 1 });
  let outcome: Outcome = SUCCESS;
  let attempt = 1;
  for (; ; attempt++) {
    const attemptScope = new Scope([base], step.timeoutMs, `step "${step.name}"`);
    try {
      outcome = await runStepAttempt(scope, step, attempt, attemptScope.signal, sink);
    } finally {
      attemptScope.dispose();
    }
    const retryable = outcome.status === "failure" || outcome.status === "timed_out";
    if (!retryable || attempt >= max || base.aborted) break;
    const delayMs = nextDelay(step.retry, attempt, run.random);
    const why = outcome.reason ?? outcome.status;
    run.emit("step.retry", { jobId: job.id, stepIndex: step.index, attempt: attempt + 1, delayMs, reason: run.redactor.redact(why) });
    logMessage(
      run,
      sink,
      "system",
      `attempt ${attempt} of ${max} ${outcome.status === "timed_out" ? "timed out" : "failed"} (${why}); retrying in ${delayMs}ms`,
    );
    await run.sleep(delayMs, base);
    if (base.aborted) {
      outcome = abortedOutcome(base);
      break;
    }
  }
  finishStep(run, job, step, outcome.status, attempt, outcome.exitCode ?? null, started, outcome.reason);
  return { outcome, attempts: attempt };
}

function finishStep(
  run: RunContext,
  job: PlanJob,
  step: PlanStep,
  status: StepStatus,
  attempts: number,
  exitCode: number | null,
  started: number,
  reason: string | undefined,
): void {
  const payload = {
    jobId: job.id,
    stepIndex: step.index,
    name: run.redactor.redact(step.name),
    status,
    attempts,
    exitCode,
    durationMs: Date.now() - started,
  };
  run.emit("step.finished", reason === undefined ? payload : { ...payload, reason: run.redactor.redact(reason) });
}

async function runStepAttempt(scope: JobScope, step: PlanStep, attempt: number, signal: AbortSignal, sink: LineSink): Promise<Outcome> {
  if (step.kind === "sh") return runShell(scope, step, signal, sink);
  return runFunction(scope, step, attempt, signal, sink);
}

async function runShell(scope: JobScope, step: PlanStep, signal: AbortSignal, sink: LineSink): Promise<Outcome> {
  if (step.container !== undefined) return runInContainer(scope, step, step.container, signal, sink);
  return runShellOn(scope, scope.executor, step, signal, sink);
}

/** A `sh` step with `container:`: a fresh ephemeral container of that image per attempt, removed after it. */
async function runInContainer(scope: JobScope, step: PlanStep, image: string, signal: AbortSignal, sink: LineSink): Promise<Outcome> {
  const { run } = scope;
  let container: EphemeralContainer;
  try {
    container = await openEphemeral(run, scope.executor, scope.info, image, signal, `step "${step.name}" (container: "${image}")`);
  } catch (error) {
    if (signal.aborted) return abortedOutcome(signal);
    const message = coerceError(error).message;
    logMessage(run, sink, "system", message);
    return { status: "failure", reason: message, exitCode: null };
  }
  try {
    return await runShellOn(scope, execTarget(container), step, signal, sink);
  } finally {
    await container.close().catch((error: unknown) => {
      logMessage(run, sink, "system", `could not remove the container of ${image}: ${coerceError(error).message}`);
    });
  }
}

async function runShellOn(
  scope: JobScope,
  target: Pick<Executor, "exec">,
  step: PlanStep,
  signal: AbortSignal,
  sink: LineSink,
): Promise<Outcome> {
  const { run } = scope;
  let result;
  try {
    result = await execLogged(
      run,
      target,
      scope.info,
      {
        script: step.run ?? "",
        env: envWith(scope.env, step.env),
        cwd: step.workdir,
        signal,
        killGraceMs: killGrace(run),
        timeoutMs: step.timeoutMs,
      },
      sink,
    );
  } catch (error) {
    if (signal.aborted) return abortedOutcome(signal);
    const message = coerceError(error).message;
    logMessage(run, sink, "system", `executor error: ${message}`);
    return { status: "failure", reason: `executor error: ${message}`, exitCode: null };
  }
  if (result.exitCode === 0 && !result.timedOut && !result.cancelled) return { status: "success", exitCode: 0 };
  if (signal.aborted) return { ...abortedOutcome(signal), exitCode: result.exitCode };
  if (result.timedOut) return { status: "timed_out", reason: "timed out", exitCode: result.exitCode };
  if (result.cancelled) return { status: "cancelled", reason: "cancelled", exitCode: result.exitCode };
  return { status: "failure", reason: describeExit(result), exitCode: result.exitCode };
}

async function runFunction(scope: JobScope, step: PlanStep, attempt: number, signal: AbortSignal, sink: LineSink): Promise<Outcome> {
  const { run, job } = scope;
  const handle = createStepContext({
    run,
    job,
    step,
    info: scope.info,
    executor: scope.executor,
    attempt,
    signal,
    env: envWith(scope.env, step.env),
    needs: scope.needs,
    outputs: scope.outputs,
    sink,
    killGraceMs: run.killGraceMs,
  });
  const stop = whenAborted(signal);
  try {
    const work = Promise.resolve().then(() => {
      if (!run.workflow)
        throw new GantryError("LOAD_FAILED", `step ${step.ref} is TypeScript, but the run has no workflow module to find it in`);
      const target = findStepFunction(run.workflow, job, step);
      return typeof target === "function" ? target(handle.ctx) : target.action.run(handle.ctx, target.inputs);
    });
    work.catch(() => undefined); // abandoned when the step is stopped first
    await Promise.race([work, stop.promise]);
    if (signal.aborted) return abortedOutcome(signal);
    return SUCCESS;
  } catch (error) {
    if (signal.aborted) return abortedOutcome(signal);
    const err = coerceError(error);
    logMessage(run, sink, "stderr", `error: ${err.message}`);
    if (!(err instanceof StepError) && !(err instanceof GantryError) && err.stack) {
      const frames = userFrames(err.stack);
      if (frames.length > 0) logMessage(run, sink, "system", frames.join("\n"));
    }
    return { status: "failure", reason: err.message, exitCode: err instanceof StepError ? err.exitCode : null };
  } finally {
    stop.dispose();
    await handle.finish();
  }
}
