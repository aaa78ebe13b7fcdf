/**
 * The TTY reporter: a live area at the bottom with one line per running job
 * (spinner, elapsed time, current step), redrawn in place (cursor up + clear
 * line) at most once per `interval` (100 ms: ten times a second); above it,
 * permanent lines: each finished job collapsed to one line (symbol, id,
 * duration, attempts when more than one), the last output lines of a failing
 * step under its job, retry notes, executor errors; the summary table at the
 * end. Output lines themselves are not shown (the run log has them).
 *
 * Colours through picocolors, off when `color` is false or `NO_COLOR` is set.
 * Every status and live line is cut to the terminal width, read from
 * `options.columns` or else `out.columns` at each redraw. All rendering is
 * in pretty-render.ts (pure); this file holds the state and the timer.
 */
import type { GantryEvent } from "../core/events.js";
import { BufferedWriter } from "./buffered-writer.js";
import {
  TAIL_LINES,
  createPalette,
  fitLine,
  renderFinishedJob,
  renderFrame,
  renderRetry,
  renderSummary,
  type PrettyState,
} from "./pretty-render.js";
import type { Reporter, TextOutput } from "./reporter.js";
import { RunTracker } from "./summary.js";

export interface PrettyReporterOptions {
  readonly color: boolean;
  /** Terminal width; default `out.columns`, else 80. */
  readonly columns?: number;
  /** Clock, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /** Minimum time between redraws, in ms. Default 100. */
  readonly interval?: number;
}

export type PrettyOutput = TextOutput & { readonly columns?: number; readonly rows?: number };

const UP_AND_CLEAR = "\x1b[1A\x1b[2K";

/** Keep the last `TAIL_LINES` lines without shifting on every push. */
function pushTail(tail: string[], lines: readonly string[]): void {
  if (lines.length >= TAIL_LINES) {
    tail.length = 0;
    for (let i = lines.length - TAIL_LINES; i < lines.length; i++) tail.push(lines[i]!);
    return;
  }
  for (const line of lines) tail.push(line);
  if (tail.length >= TAIL_LINES * 2) tail.splice(0, tail.length - TAIL_LINES);
}

export function createPrettyReporter(out: PrettyOutput, options: PrettyReporterOptions = { color: true }): Reporter {
  const noColorEnv = typeof process.env.NO_COLOR === "string" && process.env.NO_COLOR !== "";
  const palette = createPalette(options.color && !noColorEnv);
  const now = options.now ?? Date.now;
  const interval = options.interval ?? 100;
  const tracker = new RunTracker();
  const state: PrettyState = { run: tracker.summary };
  const writer = new BufferedWriter(out);
  /** Last output lines per job, by step index (-1: job-level lines). */
  const tails = new Map<string, Map<number, string[]>>();
  let pending: string[] = [];
  /** Visible widths of the live lines now on screen, to erase them (also after a resize). */
  let live: number[] = [];
  let dirty = false;
  /** The frame on screen (with the width it was drawn for), to skip identical redraws. */
  let lastFrame = "";
  let summaryPrinted = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  const columns = (): number => Math.max(1, options.columns ?? out.columns ?? 80);
  const maxLines = (): number => Math.max(1, (out.rows ?? 24) - 2);

  const tailOf = (jobId: string, stepIndex: number): string[] => {
    let job = tails.get(jobId);
    if (!job) tails.set(jobId, (job = new Map()));
    let tail = job.get(stepIndex);
    if (!tail) job.set(stepIndex, (tail = []));
    return tail;
  };

  const erase = (cols: number): string => {
    let rows = 0;
    for (const width of live) rows += Math.max(1, Math.ceil(width / cols));
    live = [];
    return UP_AND_CLEAR.repeat(rows);
  };

  /** Replace the live area with the pending permanent lines and, unless `final`, a new frame. */
  const paint = (final: boolean): void => {
    const cols = columns();
    const frame = final ? [] : renderFrame(state, now(), cols, { palette, maxLines: maxLines() });
    const key = `${cols}\n${frame.join("\n")}`;
    if (!final && pending.length === 0 && key === lastFrame) return;
    lastFrame = key;
    let text = erase(cols);
    for (const line of pending) text += `${line}\n`;
    pending = [];
    for (const line of frame) text += `${line}\n`;
    live = frame.map((line) => visibleWidth(line));
    dirty = false;
    if (text !== "") {
      writer.write(text);
      writer.flush();
    }
  };

  const tick = (): void => {
    const running = [...tracker.summary.jobs.values()].some((j) => j.status === "running");
    if (dirty || running || pending.length > 0) paint(false);
  };

  const start = (): void => {
    if (timer || closed) return;
    timer = setInterval(tick, interval);
    timer.unref();
  };

  const stop = (): void => {
    if (timer) clearInterval(timer);
    timer = undefined;
  };

  const printSummary = (t: number): void => {
    summaryPrinted = true;
    if (tracker.summary.jobs.size > 0) pending.push(...renderSummary(tracker.summary, t, palette));
  };

  const onEvent = (e: GantryEvent): void => {
    if (closed) return;
    tracker.apply(e);
    switch (e.type) {
      case "log":
        pushTail(tailOf(e.jobId, e.stepIndex ?? -1), e.lines);
        return;
      case "run.started": {
        const n = e.jobIds.length;
        pending.push(
          fitLine(
            [
              [`${e.plan.workflow.name}`, palette.bold],
              [`  ${n} job${n === 1 ? "" : "s"}  run ${e.runId}`, palette.dim],
            ],
            columns(),
          ),
        );
        break;
      }
      case "step.started":
        tails.get(e.jobId)?.delete(e.stepIndex);
        break;
      case "step.retry":
      case "job.retry": {
        const job = tracker.summary.jobs.get(e.jobId);
        const step = e.type === "step.retry" ? job?.steps[e.stepIndex] : undefined;
        const max = e.type === "step.retry" ? step?.maxAttempts : job?.maxAttempts;
        pending.push(renderRetry(e.jobId, step?.name, e.attempt, max, e.delayMs, e.reason, columns(), palette));
        break;
      }
      case "job.finished": {
        const job = tracker.summary.jobs.get(e.jobId);
        if (job) pending.push(...renderFinishedJob(job, tails.get(e.jobId) ?? new Map(), columns(), palette));
        tails.delete(e.jobId);
        break;
      }
      case "executor.setup":
      case "executor.cleanup":
        if (e.error !== undefined) {
          const what = e.type === "executor.setup" ? "setup failed" : "cleanup failed";
          const color = e.type === "executor.setup" ? palette.red : palette.yellow;
          pending.push(
            fitLine(
              [
                ["✗ ", color],
                [`executor ${e.executor}`, palette.bold],
                [`: ${what}: ${e.error}`, color],
              ],
              columns(),
            ),
          );
        }
        break;
      case "run.finished":
        printSummary(e.ts);
        stop();
        paint(true);
        return;
      default:
        break;
    }
    dirty = true;
    start();
  };

  return {
    onEvent,
    async close(): Promise<void> {
      if (closed) return;
      stop();
      if (!summaryPrinted) printSummary(now());
      paint(true);
      closed = true;
      await writer.drain();
    },
  };
}

/** Width of a line once escape codes are removed (one column per code point). */
function visibleWidth(line: string): number {
  // eslint-disable-next-line no-control-regex
  return Array.from(line.replace(/\x1b\[[0-9;]*m/g, "")).length;
}
