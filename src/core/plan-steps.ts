/**
 * Compiling the steps of one job expansion into `PlanStep`s.
 */
import type { Action, StepFn } from "./definition.js";
import { compileCondition } from "./conditions.js";
import { parseDuration } from "./duration.js";
import { hashValue } from "./hash.js";
import { describe, joinPath, joinPaths, messageOf, type Issues } from "./issues.js";
import { checkRelativePath } from "./paths.js";
import type { PlanCondition, PlanRetry, PlanStep } from "./plan-types.js";
import { compileRetry } from "./retry.js";
import { check, fnStepSchema, shStepSchema, usesStepSchema } from "./schemas.js";

interface StepOptionsIn {
  readonly name?: string;
  readonly if?: unknown;
  readonly retry?: unknown;
  readonly timeout?: string;
  readonly continueOnError?: boolean;
  readonly env?: Readonly<Record<string, string>>;
  readonly workdir?: string;
}

/** A step as written, with its kind made explicit (a bare function is an `fn` step). */
export type NormalizedStep =
  | (StepOptionsIn & { readonly kind: "sh"; readonly run: string; readonly container?: string })
  | (StepOptionsIn & { readonly kind: "fn"; readonly fn: StepFn })
  | (StepOptionsIn & { readonly kind: "uses"; readonly action: Action<unknown>; readonly inputs: unknown });

/** Validate one step as written; `undefined` (with issues added) when it is not a valid step. */
export function normalizeStep(raw: unknown, path: string, issues: Issues): NormalizedStep | undefined {
  if (typeof raw === "function") return { kind: "fn", fn: raw as StepFn };
  const kind = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as { kind?: unknown }).kind : undefined;
  if (kind === "sh") return check(shStepSchema, raw, path, issues);
  if (kind === "fn") return check(fnStepSchema, raw, path, issues) as NormalizedStep | undefined;
  if (kind === "uses") return check(usesStepSchema, raw, path, issues) as NormalizedStep | undefined;
  issues.add(path, `not a step: expected sh\`...\`, step(...), uses(...) or a function, got ${describe(raw)}`);
  return undefined;
}

/** The steps of a job as written: the array, or the factory called with the matrix combination. */
export function stepList(steps: unknown, matrix: Readonly<Record<string, unknown>>): unknown {
  return typeof steps === "function" ? (steps as (args: { matrix: unknown }) => unknown)({ matrix }) : steps;
}

function functionSource(fn: unknown): string {
  try {
    return Function.prototype.toString.call(fn);
  } catch {
    return "[function]";
  }
}

function functionName(fn: unknown): string {
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === "string" ? name.trim() : "";
  } catch {
    return "";
  }
}

/** Default name of a `sh` step: the first non-empty line of its script, trimmed, at most 60 characters. */
export function scriptName(run: string): string {
  const line =
    run
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? "";
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

/** Why a value cannot be stored in the plan as JSON, or `undefined` when it can. */
export function jsonProblem(value: unknown, path = "", seen = new Set<object>(), depth = 0): string | undefined {
  if (depth > 64) return `${path || "the value"} is nested too deeply`;
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? undefined : `${path || "the value"} is ${String(value)}`;
  if (typeof value !== "object") return `${path || "the value"} is ${describe(value)}`;
  if (seen.has(value)) return `${path || "the value"} refers to itself`;
  seen.add(value);
  const entries: Array<[PropertyKey, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [k, v] of entries) {
    if (v === undefined && !Array.isArray(value)) continue;
    const problem = jsonProblem(v, joinPath(path, k), seen, depth + 1);
    if (problem) return problem;
  }
  seen.delete(value);
  return undefined;
}

/** A condition as it enters hashes: without its `ref`, which depends on the step's position. */
export function hashableCondition(condition: PlanCondition | undefined): unknown {
  if (condition?.kind === "fn") return { kind: "fn", source: condition.source };
  return condition;
}

export interface StepScope {
  readonly jobPath: string;
  /** The job's env (defaults, matrix, job), under each step's own env. */
  readonly jobEnv: Readonly<Record<string, string>>;
  /** `defaults.retry`, compiled. */
  readonly defaultRetry: PlanRetry;
}

export function compileStep(raw: unknown, index: number, scope: StepScope, issues: Issues): PlanStep | undefined {
  const ref = joinPath(joinPath(scope.jobPath, "steps"), index);
  const step = normalizeStep(raw, ref, issues);
  if (!step) {
    // Still report the problems of its condition and retry policy in this pass.
    if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
      const { if: condition, retry } = raw as { if?: unknown; retry?: unknown };
      compileCondition(condition, joinPath(ref, "if"), issues);
      if (retry !== undefined) compileRetry(retry as never, joinPath(ref, "retry"), issues);
    }
    return undefined;
  }
  const before = issues.count;
  const condition = compileCondition(step.if, joinPath(ref, "if"), issues);
  const retry = step.retry === undefined ? scope.defaultRetry : compileRetry(step.retry as never, joinPath(ref, "retry"), issues);
  let workdir: string | undefined;
  if (step.workdir !== undefined) {
    const checked = checkRelativePath(step.workdir);
    if (checked.ok) workdir = checked.path;
    else issues.add(joinPath(ref, "workdir"), checked.error);
  }
  const fields: Omit<PlanStep, "index" | "ref" | "hash"> & { name: string } = {
    name: step.name ?? "",
    kind: step.kind,
    ...(condition ? { if: condition } : {}),
    retry,
    ...(step.timeout !== undefined ? { timeoutMs: parseDuration(step.timeout) } : {}),
    continueOnError: step.continueOnError ?? false,
    env: { ...scope.jobEnv, ...step.env },
    ...(workdir !== undefined ? { workdir } : {}),
  };
  if (step.kind === "sh") {
    fields.name = step.name ?? (scriptName(step.run) || `step ${index + 1}`);
    Object.assign(fields, { run: step.run }, step.container !== undefined ? { container: step.container } : {});
  } else if (step.kind === "fn") {
    fields.name = step.name ?? (functionName(step.fn) || `step ${index + 1}`);
    Object.assign(fields, { source: functionSource(step.fn) });
  } else {
    const action = step.action;
    fields.name = step.name ?? action.name;
    const inputs = validateInputs(action, step.inputs, joinPath(ref, "inputs"), issues);
    Object.assign(fields, { action: { name: action.name, ...(action.version !== undefined ? { version: action.version } : {}), inputs } });
  }
  if (issues.count > before) return undefined;
  // Not over `index` or `ref`: a step's hash depends on its content, not on its position.
  return { index, ref, ...fields, hash: hashValue({ ...fields, if: hashableCondition(condition) }) };
}

/** Validate `uses()` inputs against the action's schema; returns the parsed inputs. */
function validateInputs(action: Action<unknown>, inputs: unknown, path: string, issues: Issues): unknown {
  let result: ReturnType<Action<unknown>["inputs"]["safeParse"]>;
  try {
    result = action.inputs.safeParse(inputs);
  } catch (error) {
    issues.add(path, `the inputs schema of action ${JSON.stringify(action.name)} threw: ${messageOf(error)}`);
    return undefined;
  }
  if (!result || typeof result !== "object") {
    issues.add(path, `the inputs schema of action ${JSON.stringify(action.name)} returned ${describe(result)} from safeParse`);
    return undefined;
  }
  if (!result.success) {
    const list = Array.isArray(result.error?.issues) ? result.error.issues : [];
    if (list.length === 0) issues.add(path, `invalid inputs for action ${JSON.stringify(action.name)}`);
    for (const issue of list) {
      const at = Array.isArray(issue.path) ? joinPaths(path, issue.path) : path;
      issues.add(
        at,
        `invalid input for action ${JSON.stringify(action.name)}: ${typeof issue.message === "string" ? issue.message : "invalid"}`,
      );
    }
    return undefined;
  }
  const problem = jsonProblem(result.data);
  if (problem) {
    issues.add(path, `inputs of action ${JSON.stringify(action.name)} must be plain JSON data: ${problem}`);
    return undefined;
  }
  return result.data;
}
