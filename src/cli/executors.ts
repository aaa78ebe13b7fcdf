/**
 * Which executor implementation runs each kind of plan executor. The CLI,
 * the server and the agent share this table; adapters register here, the
 * engine only sees `executorFor`.
 */
import { GantryError } from "../core/errors.js";
import type { Executor } from "../core/executor.js";
import type { PlanExecutor } from "../core/plan-types.js";
import { createContainerExecutor } from "../executors/container/index.js";
import { createLocalExecutor } from "../executors/local/index.js";
import { createSshExecutor } from "../executors/ssh/index.js";

export type ExecutorFactory = (def: PlanExecutor) => Executor;

const factories: Partial<Record<PlanExecutor["kind"], ExecutorFactory>> = {
  local: (def) => createLocalExecutor(def),
  container: (def) => createContainerExecutor(def),
  ssh: (def) => createSshExecutor(def),
};

export interface ExecutorRegistry {
  executorFor(def: PlanExecutor): Executor;
}

export function createExecutorRegistry(overrides: Partial<Record<PlanExecutor["kind"], ExecutorFactory>> = {}): ExecutorRegistry {
  const table = { ...factories, ...overrides };
  return {
    executorFor(def) {
      const factory = table[def.kind];
      if (!factory) {
        throw new GantryError("USAGE", `executor "${def.name}" is of kind "${def.kind}", which this Gantry cannot run yet`);
      }
      return factory(def);
    },
  };
}
