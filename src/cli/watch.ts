/**
 * `gantry run --watch`: run, then run again when a file the repository copy
 * would include changes. Only the jobs whose plan hash changed, or that read
 * the repository (`copyRepo`, the default) when a repository file changed, or
 * that did not succeed last time, run again, plus every job that needs
 * them; the others are restored from the previous run (status, outputs,
 * artifacts), and the output says which.
 */
import { watch } from "node:fs";
import { join, relative } from "node:path";
import type { RunStatus } from "../core/context.js";
import { coerceError, GantryError } from "../core/errors.js";
import type { GantryEvent } from "../core/events.js";
import type { Plan } from "../core/plan-types.js";
import type { RestoredJob } from "../engine/run.js";
import type { CliIo } from "./io.js";
import type { RunOptions } from "./run-options.js";
import { exitCodeFor, runCompiled, type RunOnceResult } from "./run.js";
import { repoDirOf, type CompiledWorkflow } from "./workflows.js";

const IGNORED = [/^\.git(\/|$)/, /(^|\/)node_modules(\/|$)/, /^\.gantry\/state(\/|$)/];
const DEBOUNCE_MS = 200;

export function isWatchedPath(path: string): boolean {
  const posix = path.replace(/\\/g, "/");
  return posix !== "" && !IGNORED.some((re) => re.test(posix));
}

interface Previous {
  readonly run: RunOnceResult;
  readonly artifacts: ReadonlyMap<string, Record<string, { hash: string; size: number }>>;
}

/**
 * Which jobs of `plan` must run again after `changedFiles` changed, given the
 * previous run. Pure: exported for tests.
 */
export function jobsToRerun(
  plan: Plan,
  previous: { plan: Plan; statuses: Readonly<Record<string, string>> },
  changedFiles: readonly string[],
): Set<string> {
  const before = new Map(previous.plan.jobs.map((j) => [j.id, j.hash]));
  const repoChanged = changedFiles.some((f) => !f.startsWith(".gantry/"));
  const rerun = new Set<string>();
  for (const job of plan.jobs) {
    const readsRepo = plan.executors[job.executor]?.copiesRepo !== false;
    const status = previous.statuses[job.id];
    if (before.get(job.id) !== job.hash || (repoChanged && readsRepo) || (status !== "success" && status !== "cached")) rerun.add(job.id);
  }
  for (const job of plan.jobs) if (job.needs.some((n) => rerun.has(n))) rerun.add(job.id); // plan.jobs is topological
  return rerun;
}

function restoreFrom(previous: Previous, plan: Plan, rerun: ReadonlySet<string>): Record<string, RestoredJob> {
  const restore: Record<string, RestoredJob> = {};
  for (const job of plan.jobs) {
    const old = previous.run.result.jobs[job.id];
    if (rerun.has(job.id) || !old) continue;
    restore[job.id] = { status: old.status, outputs: old.outputs, artifacts: previous.artifacts.get(job.id) ?? {} };
  }
  return restore;
}

export async function watchCommand(options: RunOptions, io: CliIo, compile: () => Promise<CompiledWorkflow>): Promise<number> {
  const repoDir = repoDirOf(options);
  let status: RunStatus = "success";
  let stopped = false;
  let previous: Previous | undefined;
  const changed = new Set<string>();
  let wake: (() => void) | undefined;
  const watcher = watch(repoDir, { recursive: true }, (_event, name) => {
    if (!name) return;
    const rel = relative(repoDir, join(repoDir, name.toString())).replace(/\\/g, "/");
    if (!isWatchedPath(rel)) return;
    changed.add(rel);
    wake?.();
  });
  const onSignal = (): void => {
    stopped = true;
    wake?.();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    for (;;) {
      try {
        const compiled = await compile();
        let restore: Record<string, RestoredJob> | undefined;
        if (previous) {
          const statuses = Object.fromEntries(Object.entries(previous.run.result.jobs).map(([id, r]) => [id, r.status]));
          const rerun = jobsToRerun(compiled.plan, { plan: previous.run.plan, statuses }, [...changed]);
          restore = restoreFrom(previous, compiled.plan, rerun);
          const kept = Object.keys(restore);
          io.err(`gantry: running again: ${[...rerun].join(", ") || "nothing"}${kept.length ? `; unchanged: ${kept.join(", ")}` : ""}`);
        }
        changed.clear();
        const artifacts = new Map<string, Record<string, { hash: string; size: number }>>();
        const collect = (event: GantryEvent): void => {
          if (event.type !== "artifact.saved") return;
          const forJob = artifacts.get(event.jobId) ?? {};
          forJob[event.name] = { hash: event.hash, size: event.size };
          artifacts.set(event.jobId, forJob);
        };
        const run = await runCompiled(compiled, options, io, { ...(restore ? { restore: { jobs: restore } } : {}), listeners: [collect] });
        // Jobs restored this time keep the blobs of the run that made them.
        for (const [id, job] of Object.entries(restore ?? {})) if (job.artifacts) artifacts.set(id, job.artifacts as never);
        previous = { run, artifacts };
        status = run.result.status;
      } catch (error) {
        const e = coerceError(error);
        if (!(e instanceof GantryError)) throw e;
        io.err(e.message);
        status = "failure";
      }
      if (stopped || status === "cancelled") break;
      io.err(`gantry: watching ${repoDir} for changes (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        wake = () => {
          clearTimeout(timer);
          if (stopped) return resolve();
          timer = setTimeout(resolve, DEBOUNCE_MS);
        };
      });
      wake = undefined;
      if (stopped) break;
      const list = [...changed];
      io.err(`gantry: changed: ${list.slice(0, 5).join(", ")}${list.length > 5 ? ` and ${list.length - 5} more` : ""}`);
    }
  } finally {
    watcher.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return exitCodeFor(status);
}
