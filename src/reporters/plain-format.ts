/**
 * The plain line format shared by the plain reporter and the per-job run log
 * files: `HH:MM:SS.mmm [job/step] text`, ASCII status words, no escape codes
 * added (a process's own output is passed through as it is).
 */
import { linesText, type GantryEvent } from "../core/events.js";
import { formatDuration } from "../core/duration.js";
import { safeId } from "../core/terminal.js";
import { formatBytes, formatClock, truncate } from "./format.js";
import type { RunTracker } from "./summary.js";

/** Step names longer than this are shortened in line prefixes. */
const MAX_STEP_NAME = 40;

function shortHash(hash: string): string {
  return hash.replace(/^sha256:/, "").slice(0, 12);
}

function ofMax(attempt: number, max: number | undefined): string {
  return max !== undefined && max > 1 ? `${attempt}/${max}` : String(attempt);
}

/** The last formatting of each `log` event (shared by every formatter: the plain reporter and the run's job logs). */
const formatted = new WeakMap<GantryEvent, { readonly head: string; readonly text: string }>();

export class PlainFormatter {
  private readonly prefixes = new Map<string, { job: string; steps: Array<string | undefined> }>();

  /** `tracker` must already have seen the event passed to `format` (apply first, then format). */
  constructor(private readonly tracker: RunTracker) {}

  /** `[job] ` or `[job/step] `, cached. */
  prefix(jobId: string, stepIndex?: number): string {
    let p = this.prefixes.get(jobId);
    if (!p) {
      p = { job: `[${safeId(jobId)}] `, steps: [] };
      this.prefixes.set(jobId, p);
    }
    if (stepIndex === undefined) return p.job;
    let s = p.steps[stepIndex];
    if (s === undefined) {
      s = `[${safeId(jobId)}/${safeId(truncate(this.tracker.stepName(jobId, stepIndex), MAX_STEP_NAME, "..."))}] `;
      p.steps[stepIndex] = s;
    }
    return s;
  }

  /** The step's name may differ from the plan's (or be learnt only now): build its prefix again. */
  private forgetStepPrefix(jobId: string, stepIndex: number): void {
    const p = this.prefixes.get(jobId);
    if (p) p.steps[stepIndex] = undefined;
  }

  /** The line(s) for one event, each ending in `\n`; `""` for none. */
  format(e: GantryEvent): string {
    if (e.type === "log") {
      // one prefix for the whole block: `HH:MM:SS.mmm [job/step] ` before each line
      const head = `${formatClock(e.ts)} ${this.prefix(e.jobId, e.stepIndex)}`;
      // the terminal and the job's .log format the same block the same way: format it once
      const cached = formatted.get(e);
      if (cached?.head === head) return cached.text;
      const text = e.lines.length === 1 ? `${head}${e.lines[0]}\n` : `${head}${linesText(e.lines).replaceAll("\n", `\n${head}`)}\n`;
      formatted.set(e, { head, text });
      return text;
    }
    const text = this.describe(e);
    // names, reasons and errors come from workflows and processes: escaped, one line
    return text === undefined ? "" : `${formatClock(e.ts)} ${safeId(text)}\n`;
  }

  private describe(e: Exclude<GantryEvent, { type: "log" }>): string | undefined {
    switch (e.type) {
      case "run.started":
        return `[run] ${e.plan.workflow.name} started: ${e.jobIds.length} job${e.jobIds.length === 1 ? "" : "s"}, plan ${shortHash(e.plan.hash)}, run ${e.runId}`;
      case "run.finished":
        return `[run] ${e.status} in ${formatDuration(e.durationMs)}`;
      case "executor.setup":
        return e.error === undefined
          ? `[executor ${e.executor}] ready in ${formatDuration(e.durationMs)}`
          : `[executor ${e.executor}] setup failed after ${formatDuration(e.durationMs)}: ${e.error}`;
      case "executor.cleanup":
        return e.error === undefined
          ? `[executor ${e.executor}] cleaned up in ${formatDuration(e.durationMs)}`
          : `[executor ${e.executor}] cleanup failed after ${formatDuration(e.durationMs)}: ${e.error}`;
      case "job.started": {
        const max = this.tracker.summary.jobs.get(e.jobId)?.maxAttempts;
        const attempt = e.attempt > 1 ? `attempt ${ofMax(e.attempt, max)} ` : "";
        return `${this.prefix(e.jobId)}${attempt}started on ${e.executor}`;
      }
      case "job.retry": {
        const max = this.tracker.summary.jobs.get(e.jobId)?.maxAttempts;
        return `${this.prefix(e.jobId)}retry ${ofMax(e.attempt, max)} in ${formatDuration(e.delayMs)}: ${e.reason}`;
      }
      case "job.finished": {
        let text = `${this.prefix(e.jobId)}${e.status}`;
        if (e.status !== "skipped" && e.status !== "cached") text += ` in ${formatDuration(e.durationMs)}`;
        if (e.attempts > 1) text += ` after ${e.attempts} attempts`;
        if (e.reason !== undefined && e.status !== "success") text += `: ${e.reason}`;
        return text;
      }
      case "step.started": {
        this.forgetStepPrefix(e.jobId, e.stepIndex);
        const max = this.tracker.summary.jobs.get(e.jobId)?.steps[e.stepIndex]?.maxAttempts;
        return `${this.prefix(e.jobId, e.stepIndex)}${e.attempt > 1 ? `attempt ${ofMax(e.attempt, max)} ` : ""}started`;
      }
      case "step.retry": {
        const max = this.tracker.summary.jobs.get(e.jobId)?.steps[e.stepIndex]?.maxAttempts;
        return `${this.prefix(e.jobId, e.stepIndex)}retry ${ofMax(e.attempt, max)} in ${formatDuration(e.delayMs)}: ${e.reason}`;
      }
      case "step.finished": {
        let text = `${this.prefix(e.jobId, e.stepIndex)}${e.status}`;
        if (e.status !== "skipped") text += ` in ${formatDuration(e.durationMs)}`;
        if (e.attempts > 1) text += ` after ${e.attempts} attempts`;
        const exit = e.exitCode === null ? "" : `exit code ${e.exitCode}`;
        if (e.status !== "success" && e.status !== "skipped" && exit !== "") text += ` (${exit})`;
        if (e.reason !== undefined && e.status !== "success" && e.reason !== exit) text += `: ${e.reason}`;
        return text;
      }
      case "artifact.saved":
        return `${this.prefix(e.jobId)}saved artifact ${e.name} (${formatBytes(e.size)}, ${shortHash(e.hash)})`;
      case "artifact.restored":
        return `${this.prefix(e.jobId)}restored artifact ${e.name} to ${e.path} (${shortHash(e.hash)})`;
      default:
        return undefined;
    }
  }
}
