/**
 * Pure rendering for the pretty (TTY) reporter: the live frame (one line per
 * running job), the permanent line of a finished job with its failing output,
 * retry notes and the summary. No I/O, no clock: `now` and `columns` are
 * arguments, so every function here is tested without a terminal.
 */
import pc from "picocolors";
import type { Formatter } from "picocolors/types.js";
import { formatDuration } from "../core/duration.js";
import { safeId } from "../core/terminal.js";
import { STATUS_SYMBOL, formatSummaryTable, formatTotals, sanitizeLine, type AnyStatus } from "./format.js";
import type { JobSummary, RunSummary } from "./summary.js";
import { failedSteps, jobDuration } from "./summary.js";

export const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"] as const;
const SPINNER_MS = 80;
/** How many output lines of a failing step are shown under its job. */
export const TAIL_LINES = 20;

export interface Palette {
  readonly enabled: boolean;
  readonly bold: Formatter;
  readonly dim: Formatter;
  readonly red: Formatter;
  readonly green: Formatter;
  readonly yellow: Formatter;
  readonly cyan: Formatter;
  readonly gray: Formatter;
}

export function createPalette(color: boolean): Palette {
  const c = pc.createColors(color);
  return { enabled: color, bold: c.bold, dim: c.dim, red: c.red, green: c.green, yellow: c.yellow, cyan: c.cyan, gray: c.gray };
}

export function statusColor(p: Palette, status: AnyStatus): Formatter {
  switch (status) {
    case "success":
      return p.green;
    case "failure":
    case "timed_out":
      return p.red;
    case "cancelled":
    case "interrupted":
      return p.yellow;
    case "cached":
    case "running":
      return p.cyan;
    default:
      return p.gray;
  }
}

/** A piece of a line: its text and how to colour it. */
export type Part = readonly [text: string, style?: Formatter];

/**
 * Join parts into one line of at most `columns - 1` characters (the last
 * column is left free so that no terminal wraps), cutting with `…`; colour
 * is applied after cutting, so escape codes never count and are never cut.
 */
export function fitLine(unsafe: readonly Part[], columns: number): string {
  // ids, names and messages come from workflows and processes: no control character reaches the terminal
  const parts = unsafe.map(([text, style]) => [safeId(text), style] as const);
  const width = Math.max(1, columns - 1);
  const split = parts.map(([text, style]) => [Array.from(text), style] as const);
  const total = split.reduce((n, [chars]) => n + chars.length, 0);
  const paint = (text: string, style?: Formatter): string => (style && text !== "" ? style(text) : text);
  if (total <= width) return parts.map(([text, style]) => paint(text, style)).join("");
  let room = width - 1; // keep one column for the ellipsis
  let out = "";
  for (const [chars, style] of split) {
    if (chars.length < room) {
      out += paint(chars.join(""), style);
      room -= chars.length;
      continue;
    }
    out += paint(`${chars.slice(0, room).join("")}…`, style);
    break;
  }
  return out;
}

/** Elapsed time for live lines: one decimal under a minute, so it does not jitter. */
export function formatElapsed(ms: number): string {
  return ms < 60_000 ? `${(Math.max(0, ms) / 1000).toFixed(1)}s` : formatDuration(ms);
}

export interface PrettyState {
  readonly run: RunSummary;
}

export interface FrameOptions {
  readonly palette?: Palette;
  /** At most this many lines; extra running jobs are counted on the last line. */
  readonly maxLines?: number;
}

const NO_COLOR = createPalette(false);

function runningLine(job: JobSummary, now: number, columns: number, p: Palette): string {
  const elapsed = formatElapsed(jobDuration(job, now) ?? 0);
  if (job.retryAt !== undefined) {
    return fitLine(
      [
        ["↻ ", p.yellow],
        [job.id, p.bold],
        [`  ${elapsed}`, p.dim],
        [`  retry in ${formatElapsed(job.retryAt - now)}`, p.yellow],
      ],
      columns,
    );
  }
  const spinner = SPINNER[Math.floor(Math.max(0, now - (job.attemptStartedAt ?? now)) / SPINNER_MS) % SPINNER.length]!;
  const parts: Part[] = [
    [`${spinner} `, p.cyan],
    [job.id, p.bold],
    [`  ${elapsed}`, p.dim],
  ];
  if (job.attempts > 1) {
    const of = job.maxAttempts !== undefined && job.maxAttempts >= job.attempts ? `/${job.maxAttempts}` : "";
    parts.push([`  attempt ${job.attempts}${of}`, p.yellow]);
  }
  const step = job.currentStep === undefined ? undefined : job.steps[job.currentStep];
  if (step) parts.push([`  › ${sanitizeLine(step.name)}`]);
  return fitLine(parts, columns);
}

/**
 * The live area: one line per running job, in plan order (spinner, job id,
 * elapsed time, attempt when retried, current step), then a line counting
 * jobs that have not started. Empty when nothing runs or waits.
 */
export function renderFrame(state: PrettyState, now: number, columns: number, options: FrameOptions = {}): string[] {
  const p = options.palette ?? NO_COLOR;
  const maxLines = Math.max(1, options.maxLines ?? Number.POSITIVE_INFINITY);
  const running: JobSummary[] = [];
  let waiting = 0;
  for (const job of state.run.jobs.values()) {
    if (job.status === "running") running.push(job);
    else if (job.status === "queued") waiting++;
  }
  const lines: string[] = [];
  const room = waiting > 0 ? maxLines - 1 : maxLines;
  const shown = running.length > room ? Math.max(0, room - 1) : running.length;
  for (const job of running.slice(0, shown)) lines.push(runningLine(job, now, columns, p));
  if (shown < running.length) lines.push(fitLine([[`… ${running.length - shown} more running`, p.dim]], columns));
  if (waiting > 0 && lines.length < maxLines) lines.push(fitLine([[`· ${waiting} waiting`, p.dim]], columns));
  return lines;
}

/**
 * The permanent lines of a finished job: symbol, id, duration, attempts when
 * more than one, the reason when it did not succeed; for each failing step
 * its name, exit code and its last output lines (`tails`, by step index;
 * index -1 holds job-level lines, shown when no step failed). Output lines
 * are not cut to the width (they are permanent, wrapping does no harm).
 */
export function renderFinishedJob(
  job: JobSummary,
  tails: ReadonlyMap<number, readonly string[]>,
  columns: number,
  palette: Palette = NO_COLOR,
): string[] {
  const p = palette;
  const color = statusColor(p, job.status);
  const parts: Part[] = [
    [`${STATUS_SYMBOL[job.status]} `, color],
    [job.id, p.bold],
  ];
  if (job.status !== "skipped" && job.status !== "cached") parts.push([`  ${formatDuration(job.durationMs ?? 0)}`, p.dim]);
  else parts.push([`  ${job.status}`, p.dim]);
  if (job.attempts > 1) parts.push([`  (${job.attempts} attempts)`, p.yellow]);
  const failing = job.status === "failure" || job.status === "timed_out";
  if (job.status !== "success" && job.reason && !(failing && failedSteps(job).length > 0)) parts.push([`  ${job.reason}`, p.dim]);
  const lines = [fitLine(parts, columns)];
  if (!failing) return lines;
  const steps = failedSteps(job);
  for (const step of steps) {
    const head: Part[] = [[`  ${STATUS_SYMBOL[step.status]} `, statusColor(p, step.status)], [step.name]];
    if (step.exitCode !== null) head.push([`  exit code ${step.exitCode}`, p.dim]);
    else if (step.reason) head.push([`  ${step.reason}`, p.dim]);
    lines.push(fitLine(head, columns));
    lines.push(...renderTail(tails.get(step.index) ?? [], p));
  }
  if (steps.length === 0) lines.push(...renderTail(tails.get(-1) ?? [], p));
  return lines;
}

function renderTail(tail: readonly string[], p: Palette): string[] {
  const start = Math.max(0, tail.length - TAIL_LINES);
  const out: string[] = [];
  for (let i = start; i < tail.length; i++) out.push(`${p.dim("    │")} ${sanitizeLine(tail[i]!)}`);
  return out;
}

/** A retry note: `↻ test › npm test: retry 2/3 in 400ms: exit code 1`. */
export function renderRetry(
  jobId: string,
  stepName: string | undefined,
  attempt: number,
  maxAttempts: number | undefined,
  delayMs: number,
  reason: string,
  columns: number,
  palette: Palette = NO_COLOR,
): string {
  const of = maxAttempts !== undefined && maxAttempts > 1 ? `${attempt}/${maxAttempts}` : String(attempt);
  const parts: Part[] = [
    ["↻ ", palette.yellow],
    [jobId, palette.bold],
  ];
  if (stepName !== undefined) parts.push([` › ${sanitizeLine(stepName)}`]);
  parts.push([`: retry ${of} in ${formatDuration(delayMs)}: ${sanitizeLine(reason)}`, palette.yellow]);
  return fitLine(parts, columns);
}

/** The end of the run: a blank line, the table (symbols, coloured statuses), the totals line. */
export function renderSummary(run: RunSummary, now: number, palette: Palette = NO_COLOR): string[] {
  const table = formatSummaryTable(run, now, {
    symbols: true,
    colorStatus: (status, text) => statusColor(palette, status)(text),
    header: palette.dim,
  });
  const totals = table.pop() ?? formatTotals(run);
  return ["", ...table, "", palette.bold(statusColor(palette, run.status)(`${STATUS_SYMBOL[run.status]} ${totals}`))];
}
