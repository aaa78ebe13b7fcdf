/**
 * Building executors for plan entries from the registered executor kinds
 * (`builtinExecutorKinds`). The CLI, the server and the agent share this;
 * the engine only sees `executorFor`.
 */
import { GantryError } from "../core/errors.js";
import type { ExecutorDeps, ExecutorDescriptors } from "../core/executor-kind.js";
import type { Executor } from "../core/executor.js";
import type { Plan, PlanExecutor } from "../core/plan-types.js";
import { builtinExecutorKinds } from "../executors/builtin.js";

export interface ExecutorProvider {
  executorFor(def: PlanExecutor): Executor;
}

/** Build each plan executor with the descriptor of its kind. */
export function createExecutorProvider(deps: ExecutorDeps = {}, kinds: ExecutorDescriptors = builtinExecutorKinds): ExecutorProvider {
  return {
    executorFor(def) {
      const descriptor = kinds.get(def.kind);
      if (!descriptor) {
        throw new GantryError("USAGE", `executor "${def.name}" is of kind "${def.kind}", which this Gantry cannot run`);
      }
      return descriptor.create(def, deps);
    },
  };
}

/** One line per executor of `plan` (used by `jobs`, when given) that cannot run on this machine, from the kinds' probes. */
export async function unavailableExecutors(
  plan: Plan,
  jobs: readonly string[] | undefined,
  kinds: ExecutorDescriptors = builtinExecutorKinds,
): Promise<string[]> {
  const used = new Set(plan.jobs.filter((j) => jobs === undefined || jobs.includes(j.id)).map((j) => j.executor));
  const problems = await Promise.all(
    [...used].map(async (name) => {
      const def = plan.executors[name];
      if (!def) return undefined;
      const descriptor = kinds.get(def.kind);
      if (!descriptor) return `executor "${name}" is of kind "${def.kind}", which this Gantry cannot run`;
      const reason = await descriptor.probe?.(def);
      return reason === undefined ? undefined : `executor "${name}" (${def.kind}) cannot run here: ${reason}`;
    }),
  );
  return problems.filter((p): p is string => p !== undefined);
}
