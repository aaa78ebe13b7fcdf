/**
 * Small pure formatting helpers shared by the reporters: clock, status
 * symbols and words, slugs, sizes, the summary table, width fitting.
 */
import type { JobStatus, RunStatus, StepStatus } from "../core/context.js";
import { formatDuration } from "../core/duration.js";
import { safeId, safeText } from "../core/terminal.js";
import { countByStatus, jobDuration, type RunSummary } from "./summary.js";

export type AnyStatus = JobStatus | StepStatus | RunStatus;

/** Terminal symbols; plain output uses the status word instead. */
export const STATUS_SYMBOL: Readonly<Record<AnyStatus, string>> = {
  success: "✓",
  failure: "✗",
  timed_out: "⏱",
  cancelled: "⊘",
  interrupted: "⊘",
  skipped: "○",
  cached: "↺",
  running: "•",
  queued: "·",
};

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

let lastClockTs = Number.NaN;
let lastClock = "";

/**
 * `HH:MM:SS.mmm` in the local time zone, like most CI tools show. Cached for
 * the last timestamp: consecutive log lines usually share a millisecond.
 */
export function formatClock(ts: number): string {
  if (ts === lastClockTs) return lastClock;
  const d = new Date(ts);
  const ms = d.getMilliseconds();
  const text = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}`;
  lastClockTs = ts;
  lastClock = text;
  return text;
}

/**
 * A file-name-safe form of a job id: `test (node=20, os=bookworm)` ->
 * `test-node-20-os-bookworm`. Not injective; callers de-duplicate.
 */
export function slugify(id: string): string {
  const slug = id
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^[-.]+|-+$/g, "")
    .slice(0, 100);
  return slug === "" ? "job" : slug;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Shorten `text` to at most `width` characters, ending with `ellipsis` when cut. */
export function truncate(text: string, width: number, ellipsis = "…"): string {
  if (width <= 0) return "";
  if (text.length <= width) return text;
  if (width <= ellipsis.length) return text.slice(0, width);
  return text.slice(0, width - ellipsis.length) + ellipsis;
}

/** Keep only what a terminal would show of a line: the part after the last `\r`, no escape sequences, no control characters. */
export function sanitizeLine(line: string): string {
  // eslint-disable-next-line no-control-regex
  return safeText(line).replace(/\x1b\[[0-9;:]*m/g, "");
}

export interface TableStyle {
  /** Show the status as `✓ success` (true) or `success` (false). */
  readonly symbols: boolean;
  /** Colour a status cell (already padded). */
  readonly colorStatus?: (status: AnyStatus, text: string) => string;
  readonly header?: (text: string) => string;
}

/**
 * The end-of-run table: one row per job (job, status, attempts, duration),
 * then a totals line. Jobs still running at `now` show their elapsed time.
 */
export function formatSummaryTable(summary: RunSummary, now: number, style: TableStyle): string[] {
  const rows: Array<{ job: string; status: AnyStatus; statusText: string; attempts: string; duration: string }> = [];
  for (const job of summary.jobs.values()) {
    const neverRan = job.reused || (job.startedAt === undefined && (job.status === "skipped" || job.status === "queued"));
    const d = neverRan ? undefined : jobDuration(job, now);
    const text = job.reused ? `${job.status} (reused)` : job.status;
    rows.push({
      job: safeId(job.id),
      status: job.status,
      statusText: style.symbols ? `${STATUS_SYMBOL[job.status]} ${text}` : text,
      attempts: job.attempts === 0 ? "-" : String(job.attempts),
      duration: d === undefined ? "-" : formatDuration(d),
    });
  }
  const head = { job: "JOB", statusText: "STATUS", attempts: "ATTEMPTS", duration: "DURATION" };
  const w = {
    job: Math.max(head.job.length, ...rows.map((r) => r.job.length)),
    status: Math.max(head.statusText.length, ...rows.map((r) => r.statusText.length)),
    attempts: Math.max(head.attempts.length, ...rows.map((r) => r.attempts.length)),
  };
  const headerLine = `${head.job.padEnd(w.job)}  ${head.statusText.padEnd(w.status)}  ${head.attempts.padEnd(w.attempts)}  ${head.duration}`;
  const lines = [style.header ? style.header(headerLine) : headerLine];
  for (const r of rows) {
    const status = r.statusText.padEnd(w.status);
    const coloured = style.colorStatus ? style.colorStatus(r.status, status) : status;
    lines.push(`${r.job.padEnd(w.job)}  ${coloured}  ${r.attempts.padEnd(w.attempts)}  ${r.duration}`);
  }
  lines.push(formatTotals(summary));
  return lines;
}

const COUNT_WORDS: ReadonlyArray<[JobStatus, string]> = [
  ["success", "succeeded"],
  ["cached", "cached"],
  ["failure", "failed"],
  ["timed_out", "timed out"],
  ["cancelled", "cancelled"],
  ["skipped", "skipped"],
  ["running", "running"],
  ["queued", "not started"],
];

/** `run failure in 12s: 2 succeeded, 1 failed, 1 skipped` (ASCII only). */
export function formatTotals(summary: RunSummary): string {
  const counts = countByStatus(summary);
  const parts = COUNT_WORDS.filter(([s]) => (counts[s] ?? 0) > 0).map(([s, word]) => `${counts[s]} ${word}`);
  const reused = [...summary.jobs.values()].filter((j) => j.reused).length;
  const duration = summary.durationMs === undefined ? "" : ` in ${formatDuration(summary.durationMs)}`;
  const note = reused > 0 ? ` (${reused} reused from an earlier run)` : "";
  return `run ${summary.status}${duration}: ${parts.length ? parts.join(", ") : "no jobs"}${note}`;
}
