/**
 * `gantry show RUN`: one run with its jobs, their steps (status, attempts,
 * duration, exit code, why) and the artifacts each job saved.
 */
import { formatSize } from "../core/size.js";
import { formatBytes } from "../reporters/format.js";
import type { ArtifactRecord, JobRecord, RunRecord, StepRecord } from "../store/store.js";
import type { CliIo } from "./io.js";
import { formatElapsed, formatTime, resolveRun, withStore, type HistoryDeps, type HistoryOptions } from "./runs.js";

export interface ShowOptions extends HistoryOptions {
  /** A run id, a unique prefix of one, or `last`. */
  readonly run: string;
  readonly json?: boolean;
}

export interface ShownRun {
  readonly run: RunRecord;
  /** The run's typed inputs (from its plan), when its workflow declares them. */
  readonly inputs?: Readonly<Record<string, unknown>>;
  readonly jobs: ReadonlyArray<JobRecord & { readonly steps: readonly StepRecord[]; readonly artifacts: readonly ArtifactRecord[] }>;
}

export async function loadRun(options: ShowOptions, deps: HistoryDeps): Promise<ShownRun> {
  return withStore(options, deps, async (store) => {
    const run = await resolveRun(store, options.run);
    const [jobs, steps, artifacts, plan] = await Promise.all([
      store.jobs.list(run.id),
      store.jobs.steps(run.id),
      store.artifacts.list(run.id),
      run.planHash ? store.plans.get(run.planHash) : undefined,
    ]);
    return {
      run,
      ...(plan?.inputs ? { inputs: plan.inputs } : {}),
      jobs: jobs.map((job) => ({
        ...job,
        steps: steps.filter((s) => s.jobId === job.jobId),
        artifacts: artifacts.filter((a) => a.jobId === job.jobId),
      })),
    };
  });
}

export function renderRun(shown: ShownRun, now: number, io: CliIo): string[] {
  const { run, jobs } = shown;
  const c = io.color;
  const paint = (status: string): string =>
    status === "success" || status === "cached"
      ? c.green(status)
      : status === "failure" || status === "timed_out"
        ? c.red(status)
        : status === "running"
          ? c.cyan(status)
          : status === "queued" || status === "skipped"
            ? c.dim(status)
            : c.yellow(status);
  const lines = [
    `${c.bold(`run ${run.id}`)}  ${paint(run.status)}`,
    `  workflow  ${run.workflow} (${run.file})`,
    `  trigger   ${run.trigger}${run.parentRunId ? ` (re-run of ${run.parentRunId})` : ""}`,
    `  started   ${formatTime(run.startedAt)}`,
    `  duration  ${formatElapsed(run, now)}`,
  ];
  if (run.planHash) lines.push(`  plan      ${run.planHash.slice(0, 12)}`);
  const inputs = Object.entries(shown.inputs ?? {});
  if (inputs.length > 0) lines.push(`  inputs    ${inputs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}`);
  for (const job of jobs) {
    lines.push("");
    const attempts = job.attempts > 1 ? `  ${job.attempts} attempts` : "";
    lines.push(
      `${c.bold(job.jobId)}  ${paint(job.status)}  ${formatElapsed(job, now)}${attempts}${job.executor ? c.dim(`  on ${job.executor}`) : ""}`,
    );
    if (job.location) lines.push(`  ran on ${job.location}${job.attempts > 1 ? c.dim(` (attempt ${job.attempts})`) : ""}`);
    if (job.reason) lines.push(`  ${c.dim(job.reason)}`);
    if (job.logTruncatedBytes !== null && job.logLimit !== null)
      lines.push(`  log truncated after ${formatSize(job.logLimit)}: ${formatSize(job.logTruncatedBytes)} more output was not kept`);
    for (const step of job.steps) {
      const exit = step.exitCode !== null && step.exitCode !== 0 ? `  exit ${step.exitCode}` : "";
      const tries = step.attempts > 1 ? `  ${step.attempts} attempts` : "";
      lines.push(
        `  ${String(step.stepIndex + 1).padStart(2)}. ${step.name}  ${paint(step.status)}  ${formatElapsed(step, now)}${exit}${tries}`,
      );
      if (step.reason && step.status !== "success") lines.push(`      ${c.dim(step.reason)}`);
    }
    const outputs = Object.entries(job.outputs);
    if (outputs.length > 0) lines.push(`  outputs: ${outputs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}`);
    for (const a of job.artifacts) lines.push(`  artifact ${a.name}  ${formatBytes(a.size)}  ${c.dim(a.hash.slice(0, 12))}`);
  }
  return lines;
}

export async function showCommand(options: ShowOptions, io: CliIo, deps: HistoryDeps = {}): Promise<number> {
  const shown = await loadRun(options, deps);
  if (options.json) io.out(JSON.stringify(shown, null, 2));
  else io.out(renderRun(shown, (deps.now ?? Date.now)(), io).join("\n"));
  return 0;
}
