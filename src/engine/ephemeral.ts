/**
 * Ephemeral containers of one step: `ctx.container(image, fn)` and the
 * `container:` option of `sh` steps. The job's executor starts them when it
 * can (`EphemeralCapable`: the container executor); for jobs whose directory
 * is on the runner's disk (`localJobDir`) the run's `ContainerRuntime` does
 * (its processes get the step's env minus the runner's process env);
 * anything else (an SSH host) is a clear error naming the executor.
 *
 * The caller must `close` what it opened, always: see `core/ephemeral.ts`.
 */
import { canRunEphemeral, type EphemeralContainer } from "../core/ephemeral.js";
import { GantryError } from "../core/errors.js";
import type { Executor, JobInfo } from "../core/executor.js";
import type { RunContext } from "./run-context.js";

/**
 * Start an ephemeral container of `image` sharing the job's workspace.
 * `purpose` names what asked, for messages: `ctx.container("alpine")`, `step "lint" (container: "node:22")`.
 */
export async function openEphemeral(
  run: RunContext,
  executor: Executor,
  info: JobInfo,
  image: string,
  signal: AbortSignal,
  purpose: string,
): Promise<EphemeralContainer> {
  if (canRunEphemeral(executor)) return executor.ephemeral(info, image, signal);
  const dir = executor.localJobDir?.(info);
  if (dir !== undefined) {
    if (!run.containers) {
      throw new GantryError(
        "EXECUTOR_FAILED",
        `${purpose} needs a container engine, but this run was started without a container runtime; run it with the gantry CLI, or pass \`containers\` to runPlan`,
      );
    }
    return withoutRunnerEnv(run, info, await run.containers.ephemeral(info, image, dir, signal));
  }
  const def = run.plan.executors[info.job.executor];
  const kind = def?.kind ?? "unknown";
  throw new GantryError(
    "EXECUTOR_FAILED",
    `${purpose}: executor "${info.job.executor}" (${kind}) cannot start containers next to its jobs; run this job on executors.container() or executors.local(), or run the command with ctx.sh instead`,
  );
}

/** The container as an `exec` target for `execLogged`. */
export function execTarget(container: EphemeralContainer): Pick<Executor, "exec"> {
  return { exec: (_job, req, io) => container.exec(req, io) };
}

/**
 * A container started for a local job gets the step's env without the
 * runner's own process env (host paths, HOME, TMPDIR... mean nothing in it),
 * as container jobs do: a variable is dropped when it comes from the process
 * env (not from the workflow) and still has the process's value.
 */
function withoutRunnerEnv(run: RunContext, info: JobInfo, container: EphemeralContainer): EphemeralContainer {
  const def = run.plan.executors[info.job.executor];
  if (!def) return container;
  const base = run.baseEnv(def);
  const fromRunner = (key: string, value: string): boolean => !(key in run.workflowEnv) && base[key] === value;
  return {
    image: container.image,
    exec(req, io) {
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(req.env)) if (!fromRunner(key, value)) env[key] = value;
      return container.exec({ ...req, env }, io);
    },
    close: () => container.close(),
  };
}
