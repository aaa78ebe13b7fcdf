/**
 * Finding a plan's functions again in the loaded workflow (the bundle), for
 * the runtime: TypeScript steps, `uses()` actions and predicate conditions
 * are found by their definition path, re-evaluating `steps({ matrix })`
 * when the steps are a function of the matrix.
 */
import type { Action, PredicateCondition, StepFn, Workflow } from "./definition.js";
import { GantryError } from "./errors.js";
import { Issues, joinPath, messageOf } from "./issues.js";
import type { PlanJob, PlanStep } from "./plan-types.js";
import { normalizeStep, stepList } from "./plan-steps.js";

function internal(message: string, cause?: unknown): GantryError {
  return new GantryError("INTERNAL", `${message}; was the plan built from another version of the workflow?`, { cause });
}

function jobDef(workflow: Workflow, job: PlanJob): Record<string, unknown> {
  const jobs = workflow.jobs as Record<string, unknown>;
  const def = Object.prototype.hasOwnProperty.call(jobs, job.key) ? jobs[job.key] : undefined;
  if (typeof def !== "object" || def === null) throw internal(`job ${JSON.stringify(job.key)} is not in the workflow`);
  return def as Record<string, unknown>;
}

function stepsOf(def: Record<string, unknown>, job: PlanJob): unknown[] {
  let steps: unknown;
  try {
    steps = stepList(def.steps, job.matrix);
  } catch (error) {
    throw internal(`the steps function of job ${JSON.stringify(job.id)} threw: ${messageOf(error)}`, error);
  }
  if (!Array.isArray(steps)) throw internal(`the steps of job ${JSON.stringify(job.id)} are not an array`);
  return steps;
}

/** A `uses()` step, found again: the action and its inputs, parsed by the action's schema. */
export interface ResolvedAction {
  readonly action: Action<unknown>;
  readonly inputs: unknown;
}

/**
 * The function of an `fn` step, or the action and parsed inputs of a `uses`
 * step. Throws `GantryError("INTERNAL")` when the step is not found or is
 * of another kind.
 */
export function findStepFunction(workflow: Workflow, job: PlanJob, step: PlanStep): StepFn | ResolvedAction {
  const def = jobDef(workflow, job);
  const raw = stepsOf(def, job)[step.index];
  const issues = new Issues("<bundle>");
  const found = raw === undefined ? undefined : normalizeStep(raw, step.ref, issues);
  if (!found) throw internal(`step ${step.ref} of job ${JSON.stringify(job.id)} is not in the workflow`);
  if (found.kind !== step.kind)
    throw internal(`step ${step.ref} of job ${JSON.stringify(job.id)} is a ${found.kind} step, the plan says ${step.kind}`);
  if (found.kind === "fn") return found.fn;
  if (found.kind === "uses") {
    const result = found.action.inputs.safeParse(found.inputs);
    if (!result.success) throw internal(`the inputs of step ${step.ref} of job ${JSON.stringify(job.id)} no longer validate`);
    return { action: found.action, inputs: result.data };
  }
  throw internal(`step ${step.ref} of job ${JSON.stringify(job.id)} is a shell step, not a function`);
}

/**
 * The predicate of a condition `{ kind: "fn", ref }`: a job's `if`
 * (`jobs.report.if`) or a step's (`jobs.report.steps[2].if`).
 */
export function findPredicate(workflow: Workflow, job: PlanJob, ref: string): PredicateCondition {
  const def = jobDef(workflow, job);
  const jobPath = joinPath("jobs", job.key);
  let candidate: unknown;
  let found = false;
  if (ref === joinPath(jobPath, "if")) {
    candidate = def.if;
    found = true;
  } else {
    const steps = stepsOf(def, job);
    for (let i = 0; i < steps.length && !found; i++) {
      if (ref !== joinPath(joinPath(joinPath(jobPath, "steps"), i), "if")) continue;
      const s = steps[i];
      candidate = typeof s === "object" && s !== null ? (s as { if?: unknown }).if : undefined;
      found = true;
    }
  }
  if (!found || typeof candidate !== "function") throw internal(`no predicate at ${ref} in job ${JSON.stringify(job.id)}`);
  return candidate as PredicateCondition;
}
