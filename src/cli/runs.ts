/**
 * `gantry runs`: the run history, newest first. Also the helpers the other
 * history commands share (`show`, `logs`, `artifacts`, `gc`): opening the
 * store of a repository and resolving a RUN argument (an id, a unique prefix
 * of one, or `last`).
 */
import type { RunStatus } from "../core/context.js";
import { formatDuration } from "../core/duration.js";
import { GantryError } from "../core/errors.js";
import { openStore } from "../store/open.js";
import type { RunRecord, Store } from "../store/store.js";
import type { CliIo } from "./io.js";
import { repoDirOf } from "./workflows.js";

export const RUN_STATUSES: readonly RunStatus[] = ["running", "success", "failure", "cancelled", "interrupted"];

/** What the history commands share: where the repository is, and test seams. */
export interface HistoryOptions {
  /** Repository directory (default: the current directory). */
  readonly dir?: string;
}

export interface HistoryDeps {
  /** Environment (for GANTRY_DATABASE_URL); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly now?: () => number;
}

/** Open the repository's store, run `fn`, close the store. */
export async function withStore<T>(options: HistoryOptions, deps: HistoryDeps, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ repoDir: repoDirOf(options), ...(deps.env ? { env: deps.env } : {}) });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A run by id, unique id prefix, or `last` (the newest run). */
export async function resolveRun(store: Store, ref: string): Promise<RunRecord> {
  if (ref === "last") {
    const [run] = await store.runs.list({ limit: 1 });
    if (!run) throw new GantryError("USAGE", `there are no runs in ${store.location} yet`);
    return run;
  }
  if (ref.trim() === "") throw new GantryError("USAGE", "RUN is empty: give a run id, a unique prefix of one, or last");
  const exact = await store.runs.get(ref);
  if (exact) return exact;
  const matches = await store.runs.list({ idPrefix: ref, limit: 6 });
  if (matches.length === 1 && matches[0]) return matches[0];
  if (matches.length === 0) throw new GantryError("USAGE", `no run matches "${ref}" in ${store.location} (gantry runs lists them)`);
  const shown = matches.slice(0, 5).map((r) => r.id);
  throw new GantryError(
    "USAGE",
    `"${ref}" matches several runs (${shown.join(", ")}${matches.length > 5 ? ", ..." : ""}); give more of the id`,
  );
}

/** `2024-05-01 14:03:07` in local time. */
export function formatTime(ts: number): string {
  const d = new Date(ts);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Duration of something that may still be running. */
export function formatElapsed(
  record: { startedAt: number | null; durationMs: number | null; finishedAt?: number | null },
  now: number,
): string {
  if (record.durationMs !== null) return formatDuration(record.durationMs);
  if (record.startedAt === null) return "-";
  return `${formatDuration(Math.max(0, now - record.startedAt))}+`;
}

/**
 * Left-aligned columns separated by two spaces; the last column is not
 * padded. `paint(row, column, padded)` may colour a body cell after padding.
 */
export function renderTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  paint?: (row: number, column: number, padded: string) => string,
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[], row: number): string =>
    cells
      .map((c, i) => {
        const padded = i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0);
        return row >= 0 && paint ? paint(row, i, padded) : padded;
      })
      .join("  ")
      .trimEnd();
  return [line(header, -1), ...rows.map(line)];
}

export interface RunsOptions extends HistoryOptions {
  readonly workflow?: string;
  readonly status?: string;
  /** Default 20. */
  readonly limit?: number;
  readonly json?: boolean;
}

export async function runsCommand(options: RunsOptions, io: CliIo, deps: HistoryDeps = {}): Promise<number> {
  const status = options.status;
  if (status !== undefined && !RUN_STATUSES.includes(status as RunStatus)) {
    throw new GantryError("USAGE", `--status: expected one of ${RUN_STATUSES.join(", ")}, got "${status}"`);
  }
  const limit = options.limit ?? 20;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000)
    throw new GantryError("USAGE", `--limit: expected a whole number from 1 to 10000, got ${limit}`);
  const runs = await withStore(options, deps, (store) =>
    store.runs.list({
      limit,
      ...(options.workflow !== undefined ? { workflow: options.workflow } : {}),
      ...(status ? { status: status as RunStatus } : {}),
    }),
  );
  if (options.json) {
    io.out(JSON.stringify(runs, null, 2));
    return 0;
  }
  if (runs.length === 0) {
    io.out(options.workflow || status ? "no runs match" : "no runs yet (gantry run starts one)");
    return 0;
  }
  const now = (deps.now ?? Date.now)();
  const rows = runs.map((r) => [r.id, r.workflow, r.trigger, r.status, formatElapsed(r, now), formatTime(r.startedAt)]);
  const c = io.color;
  const colors: Partial<Record<RunStatus, (s: string) => string>> = {
    success: c.green,
    failure: c.red,
    cancelled: c.yellow,
    interrupted: c.yellow,
    running: c.cyan,
  };
  const lines = renderTable(["ID", "WORKFLOW", "TRIGGER", "STATUS", "DURATION", "STARTED"], rows, (row, column, text) => {
    const fn = column === 3 ? colors[runs[row]?.status ?? "running"] : undefined;
    return fn ? fn(text) : text;
  });
  io.out([c.bold(lines[0] ?? ""), ...lines.slice(1)].join("\n"));
  return 0;
}
