/**
 * `gantry logs RUN [-j JOB] [--step S] [-f]`: the stored log lines of a run,
 * grouped by job and step in plan order. `-f` follows a run in progress
 * (written by another process): it polls the store for chunks after the last
 * sequence number it printed, per job, and ends when the run has finished
 * and everything it wrote has been printed, or when the process running it
 * is gone (the run is then marked interrupted and the command exits 1).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { GantryError } from "../core/errors.js";
import { safeId, safeText } from "../core/terminal.js";
import { formatClock } from "../reporters/format.js";
import { isOwnerAlive } from "../store/owner.js";
import type { JobRecord, LogChunk, StepRecord, Store } from "../store/store.js";
import type { CliIo } from "./io.js";
import { resolveRun, withStore, type HistoryDeps, type HistoryOptions } from "./runs.js";

export interface LogsOptions extends HistoryOptions {
  readonly run: string;
  /** A job id, or a job key (all its matrix jobs). */
  readonly job?: string;
  /** A step name, or its number (1 = first step) as `gantry show` prints it. */
  readonly step?: string;
  readonly follow?: boolean;
  /** Print timestamps (default true). */
  readonly timestamps?: boolean;
}

export interface LogsDeps extends HistoryDeps {
  /** Poll interval when following (default 250 ms). */
  readonly pollMs?: number;
  /** Stops following. */
  readonly signal?: AbortSignal;
}

/** Which (job, step index | null) pairs to print; `undefined` step = every line of the job. */
export function selectLogs(
  jobs: readonly JobRecord[],
  steps: readonly StepRecord[],
  job?: string,
  step?: string,
): Map<string, number | null | undefined> {
  let chosen = jobs;
  if (job !== undefined) {
    chosen = jobs.filter((j) => j.jobId === job);
    if (chosen.length === 0) chosen = jobs.filter((j) => j.key === job);
    if (chosen.length === 0)
      throw new GantryError("USAGE", `-j ${job}: no such job in this run (jobs: ${jobs.map((j) => j.jobId).join(", ") || "none"})`);
  }
  const out = new Map<string, number | null | undefined>();
  for (const j of chosen) {
    if (step === undefined) {
      out.set(j.jobId, undefined);
      continue;
    }
    const own = steps.filter((s) => s.jobId === j.jobId);
    const byNumber = /^\d+$/.test(step) ? own.find((s) => s.stepIndex === Number(step) - 1) : undefined;
    const found = byNumber ?? own.find((s) => s.name === step);
    if (found) out.set(j.jobId, found.stepIndex);
  }
  if (out.size === 0 && step !== undefined) {
    const names = [...new Set(steps.filter((s) => chosen.some((j) => j.jobId === s.jobId)).map((s) => `${s.stepIndex + 1}. ${s.name}`))];
    throw new GantryError("USAGE", `--step ${step}: no such step (steps: ${names.join(", ") || "none"})`);
  }
  return out;
}

class Printer {
  private last = "";
  constructor(
    private readonly io: CliIo,
    private readonly steps: readonly StepRecord[],
    private readonly prefixJobs: boolean,
    private readonly timestamps: boolean,
  ) {}

  print(chunk: LogChunk): void {
    const section = `${chunk.jobId}\u0000${chunk.stepIndex ?? ""}`;
    const out: string[] = [];
    if (section !== this.last) {
      this.last = section;
      const step =
        chunk.stepIndex === null ? undefined : this.steps.find((s) => s.jobId === chunk.jobId && s.stepIndex === chunk.stepIndex);
      const title = chunk.stepIndex === null ? "(job)" : `${chunk.stepIndex + 1}. ${step?.name ?? "step"}`;
      out.push(this.io.color.bold(`── ${safeId(chunk.jobId)} · ${safeId(title)}`));
    }
    const prefix = this.prefixJobs ? `${this.io.color.dim(`[${safeId(chunk.jobId)}]`)} ` : "";
    for (const l of chunk.lines) {
      // lines are made safe when they are read from the process; runs recorded before that are made safe here
      const line = safeText(l.line);
      const text = l.stream === "stderr" ? this.io.color.red(line) : l.stream === "system" ? this.io.color.dim(line) : line;
      out.push(`${prefix}${this.timestamps ? `${this.io.color.dim(formatClock(l.ts))} ` : ""}${text}`);
    }
    this.io.out(out.join("\n"));
  }
}

/** Print what the store has after `cursor`; `false` when stdout's reader went away (stop). */
async function drain(
  store: Store,
  runId: string,
  selection: Map<string, number | null | undefined>,
  cursor: Record<string, number>,
  printer: Printer,
  io: CliIo,
): Promise<boolean> {
  const [only] = selection.size === 1 ? [...selection.entries()] : [];
  for (;;) {
    const chunks = await store.logs.read({
      runId,
      after: cursor,
      limit: 500,
      ...(only ? { jobId: only[0], ...(only[1] !== undefined ? { stepIndex: only[1] } : {}) } : {}),
    });
    for (const chunk of chunks) {
      cursor[chunk.jobId] = Math.max(cursor[chunk.jobId] ?? 0, chunk.seq);
      if (!selection.has(chunk.jobId)) continue;
      const step = selection.get(chunk.jobId);
      if (step !== undefined && step !== chunk.stepIndex) continue;
      printer.print(chunk);
    }
    // Wait for a slow reader instead of buffering the whole log in memory.
    if (io.flushOut && !(await io.flushOut())) return false;
    if (chunks.length < 500) return true;
  }
}

export async function logsCommand(options: LogsOptions, io: CliIo, deps: LogsDeps = {}): Promise<number> {
  return withStore(options, deps, async (store) => {
    const run = await resolveRun(store, options.run);
    let jobs = await store.jobs.list(run.id);
    let steps = await store.jobs.steps(run.id);
    const selection = selectLogs(jobs, steps, options.job, options.step);
    const printer = new Printer(io, steps, selection.size > 1, options.timestamps !== false);
    const cursor: Record<string, number> = {};
    for (;;) {
      // Read the status before the logs: whatever the run wrote before it finished is then read below.
      const now = (await store.runs.get(run.id)) ?? run;
      if (!(await drain(store, run.id, selection, cursor, printer, io))) return 0;
      if (!options.follow || now.status !== "running" || deps.signal?.aborted) break;
      // The process writing the run is gone (killed, crashed): it will never finish it.
      if (now.owner && !isOwnerAlive(now.owner)) {
        await store.runs.markInterrupted((owner) => isOwnerAlive(owner));
        if (!(await drain(store, run.id, selection, cursor, printer, io))) return 0;
        io.err(`gantry: the process running ${run.id} (pid ${now.owner.pid} on ${now.owner.host}) is gone; the run is marked interrupted`);
        return 1;
      }
      try {
        await sleep(deps.pollMs ?? 250, undefined, deps.signal ? { signal: deps.signal } : {});
      } catch {
        break;
      }
      if (jobs.length === 0) {
        // The run row may have been written before its jobs: pick them up once they exist.
        jobs = await store.jobs.list(run.id);
        steps = await store.jobs.steps(run.id);
        for (const [k, v] of selectLogs(jobs, steps, options.job, options.step)) selection.set(k, v);
      }
    }
    if (Object.keys(cursor).length === 0 && !options.follow)
      io.err(io.errColor.dim(`run ${run.id} has no log lines${options.job || options.step ? " for this selection" : ""}`));
    return 0;
  });
}
