/**
 * Conditions (`if`): compiled into the plan by `compileCondition`, and the
 * pure evaluation of the four status conditions, as in GitHub Actions.
 */
import type { StatusConditionName } from "./definition.js";
import type { JobStatus } from "./context.js";
import { describe, type Issues } from "./issues.js";
import type { PlanCondition } from "./plan-types.js";
import { check, shStepSchema, statusConditionSchema } from "./schemas.js";

export const SUCCESS_CONDITION: PlanCondition = Object.freeze({ kind: "status", status: "success" });

/**
 * Compile a condition as written: a status condition (`success()` ...), a
 * shell condition (`sh\`test -f x\``, exit 0 means run) or a predicate
 * function (kept in the bundle, found again by `ref`). `undefined` gives
 * `undefined`; the caller picks the default.
 */
export function compileCondition(value: unknown, ref: string, issues: Issues): PlanCondition | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "function") {
    let source: string;
    try {
      source = Function.prototype.toString.call(value);
    } catch {
      source = "[function]";
    }
    return { kind: "fn", ref, source };
  }
  const kind = typeof value === "object" && value !== null ? (value as { kind?: unknown }).kind : undefined;
  if (kind === "status") {
    const parsed = check(statusConditionSchema, value, ref, issues);
    return parsed ? { kind: "status", status: parsed.status } : undefined;
  }
  if (kind === "sh") {
    const parsed = check(shStepSchema, value, ref, issues);
    return parsed ? { kind: "sh", run: parsed.run } : undefined;
  }
  issues.add(ref, `not a condition: expected success(), failure(), always(), cancelled(), sh\`...\` or a function, got ${describe(value)}`);
  return undefined;
}

export interface StatusConditionInput {
  /**
   * Statuses of what came before. For a job: its needs' statuses (passing
   * all transitive ancestors gives GitHub's "any ancestor failed" for
   * `failure()`). For a step: the earlier steps' statuses, with steps that
   * failed under `continueOnError` passed as `success`.
   */
  readonly needs: readonly JobStatus[];
  /** Whether the run was cancelled (Ctrl-C, SIGTERM, cancel from the UI). */
  readonly runCancelled: boolean;
  /**
   * `"job"` (default): a skipped need makes `success()` false, so jobs that
   * need a skipped job are skipped too, as in GitHub Actions.
   * `"step"`: a skipped earlier step counts as a success.
   */
  readonly level?: "job" | "step";
}

const FAILED: ReadonlySet<JobStatus> = new Set(["failure", "timed_out"]);

/**
 * - `success()`: the run is not cancelled and every need succeeded (or was
 *   cached; for steps also skipped).
 * - `failure()`: the run is not cancelled and some need failed or timed out.
 * - `always()`: true.
 * - `cancelled()`: the run was cancelled.
 */
export function evaluateStatusCondition(status: StatusConditionName, input: StatusConditionInput): boolean {
  switch (status) {
    case "always":
      return true;
    case "cancelled":
      return input.runCancelled;
    case "failure":
      return !input.runCancelled && input.needs.some((s) => FAILED.has(s));
    case "success": {
      const ok: ReadonlySet<JobStatus> =
        input.level === "step" ? new Set(["success", "cached", "skipped"]) : new Set(["success", "cached"]);
      return !input.runCancelled && input.needs.every((s) => ok.has(s));
    }
    default:
      return false;
  }
}
