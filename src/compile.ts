/**
 * `compileWorkflow` of the public entry point: the core compiler with the
 * executor kinds Gantry ships as the default (`options.executors`).
 */
import type { ExecutorKinds } from "./core/executor-kind.js";
import type { Plan } from "./core/plan-types.js";
import { compileWorkflow as compileWithKinds, type CompileOptions as CoreCompileOptions } from "./core/plan.js";
import { builtinExecutorKindSchemas } from "./executors/kind-schemas.js";

export interface CompileOptions extends Omit<CoreCompileOptions, "executors"> {
  /** The executor kinds the plan may use (default: local, container, ssh). */
  readonly executors?: ExecutorKinds;
}

/**
 * Compile a workflow into a plan; throws `PlanError` with every issue found.
 * `options.executors` defaults to the kinds Gantry ships (local, container, ssh).
 */
export function compileWorkflow(value: unknown, options: CompileOptions): Plan {
  return compileWithKinds(value, { ...options, executors: options?.executors ?? builtinExecutorKindSchemas });
}
