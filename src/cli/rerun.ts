/**
 * `gantry rerun RUN [--failed]`: run a recorded run's plan again, with the
 * workflow code of that run (its bundle, from the store), not the files as
 * they are now. With `--failed`, only the jobs that failed, were cancelled,
 * timed out or never finished run again, with everything that needs them;
 * the other jobs are reused: their outputs and artifacts come from the
 * store, so nothing green runs twice.
 */
import { GantryError } from "../core/errors.js";
import type { Workflow } from "../core/definition.js";
import { compileWorkflow } from "../core/plan.js";
import { builtinExecutorKinds } from "../executors/builtin.js";
import type { Plan } from "../core/plan-types.js";
import type { RestoredJob } from "../engine/run.js";
import { defaultStateDir, materializeBundle } from "../loader/bundle.js";
import { loadBundle } from "../loader/load.js";
import { loadPreviousRun, restoredJobs, selectRerun } from "../store/history.js";
import type { CliIo } from "./io.js";
import { exitCodeForRecorded, runCompiled } from "./run.js";
import type { RunOptions } from "./run-options.js";
import { resolveRun, withStore } from "./runs.js";
import { repoDirOf } from "./workflows.js";

export interface RerunOptions extends RunOptions {
  /** A run id, a unique prefix of one, or `last`. */
  readonly run: string;
  /** Only the failed, cancelled and timed-out jobs and their dependants. */
  readonly failed: boolean;
}

interface Prepared {
  readonly parentRunId: string;
  readonly plan: Plan;
  readonly bundle: string;
  readonly rerun: readonly string[];
  readonly restore: Record<string, RestoredJob>;
}

async function prepare(options: RerunOptions): Promise<Prepared | string> {
  return withStore(options, {}, async (store) => {
    const run = await resolveRun(store, options.run);
    const previous = await loadPreviousRun(store, run.id);
    if (previous.bundle === undefined) {
      throw new GantryError(
        "USAGE",
        `run ${run.id} has no stored workflow code (bundle ${previous.plan.bundle.slice(0, 12)}); it cannot be re-run`,
      );
    }
    const { rerun, reuse } = selectRerun(previous.plan, previous.jobs, { failedOnly: options.failed });
    if (rerun.length === 0) return `nothing to re-run: no job of run ${run.id} failed, was cancelled or timed out`;
    const restore: Record<string, RestoredJob> = {};
    for (const [id, job] of Object.entries(await restoredJobs(store, previous, reuse))) {
      restore[id] = { ...job, reason: `reused from run ${run.id}` };
    }
    return { parentRunId: run.id, plan: previous.plan, bundle: previous.bundle, rerun, restore };
  });
}

export async function rerunCommand(options: RerunOptions, io: CliIo): Promise<number> {
  const prepared = await prepare(options);
  if (typeof prepared === "string") {
    io.out(prepared);
    return 0;
  }
  const { bundle } = prepared;
  const repoDir = repoDirOf(options);
  const { hash, path } = await materializeBundle(bundle, { repoDir });
  const workflow = await loadBundle(hash, defaultStateDir(repoDir), { repoDir, file: prepared.plan.workflow.file });
  const plan = unmaskedPlan(prepared.plan, workflow);
  const { result, recorded } = await runCompiled(
    { plan, loaded: { workflow, bundleHash: hash, bundlePath: path, file: plan.workflow.file, source: bundle } },
    { ...options, job: prepared.rerun, only: true },
    io,
    { restore: { jobs: prepared.restore }, trigger: "rerun", parentRunId: prepared.parentRunId },
  );
  return exitCodeForRecorded(result.status, recorded);
}

/**
 * The recorded plan has its secrets masked (see engine/redact-plan.ts). The
 * stored code compiled again gives the real plan; when its hash is the
 * recorded one it is the same plan, secrets included. Otherwise (the code
 * read something that changed since) the recorded plan is run as it was stored.
 */
function unmaskedPlan(recorded: Plan, workflow: Workflow): Plan {
  try {
    const again = compileWorkflow(workflow, {
      file: recorded.workflow.file,
      bundle: recorded.bundle,
      executors: builtinExecutorKinds,
      // The run's inputs again (a rerun keeps them): the same values give the same plan.
      ...(recorded.inputs ? { inputs: recorded.inputs } : {}),
    });
    return again.hash === recorded.hash ? again : recorded;
  } catch {
    return recorded;
  }
}
