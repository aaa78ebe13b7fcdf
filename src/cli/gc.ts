/**
 * `gantry gc --keep-days N`: delete finished runs that started more than N
 * days ago, with their jobs, steps, logs and artifact records, then the
 * plans, bundles and blobs nothing refers to any more, the run directories
 * (`.gantry/state/runs/<run>`) of runs that are no longer in the store, and
 * compact the SQLite file when that freed at least a quarter of it
 * (`VACUUM`). Running runs are kept. Reports the bytes it gave back.
 */
import type { Dirent } from "node:fs";
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { GantryError } from "../core/errors.js";
import { stateDirOf } from "../store/open.js";
import type { CompactResult } from "../store/store.js";
import { formatBytes } from "../reporters/format.js";
import type { CliIo } from "./io.js";
import { withStore, type HistoryDeps, type HistoryOptions } from "./runs.js";
import { repoDirOf } from "./workflows.js";

export interface GcOptions extends HistoryOptions {
  readonly keepDays: number;
  readonly json?: boolean;
}

export interface GcDeps extends HistoryDeps {
  /**
   * Blobs and run directories younger than this are kept even when nothing
   * refers to them (a run may be about to record them); default 1 hour.
   */
  readonly blobGraceMs?: number;
}

/** `VACUUM` when free pages are at least this share of the SQLite file. */
export const VACUUM_FREE_SHARE = 0.25;

export interface GcResult {
  readonly runs: number;
  readonly blobs: number;
  /** Bytes of the blobs removed. */
  readonly bytes: number;
  readonly runDirs: number;
  readonly runDirBytes: number;
  /** SQLite only: the file (and WAL) before and after, and whether it was compacted. */
  readonly database?: CompactResult;
  /** Everything given back: blobs, run directories and what `VACUUM` shrank the database by. */
  readonly freed: number;
}

async function treeBytes(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = info.size;
  const entries: Dirent[] = await readdir(path, { withFileTypes: true }).catch(() => []);
  for (const e of entries) total += await treeBytes(join(path, e.name));
  return total;
}

export async function gcCommand(options: GcOptions, io: CliIo, deps: GcDeps = {}): Promise<number> {
  const days = options.keepDays;
  if (typeof days !== "number" || !Number.isFinite(days) || days < 0) {
    throw new GantryError("USAGE", `--keep-days: expected a number of days >= 0, got ${String(days)}`);
  }
  const now = (deps.now ?? Date.now)();
  const graceMs = deps.blobGraceMs ?? 3_600_000;
  const runsDir = join(stateDirOf(repoDirOf(options)), "runs");
  const result = await withStore(options, deps, async (store): Promise<GcResult> => {
    const dirs = await readdir(runsDir).catch(() => [] as string[]);
    const known = async (id: string): Promise<boolean> => (await store.runs.get(id)) !== undefined;
    const hadRow = new Set<string>();
    for (const id of dirs) if (await known(id)) hadRow.add(id);
    const runs = await store.runs.prune(now - days * 86_400_000);
    const blobs = await store.artifacts.sweepBlobs(graceMs);
    let runDirs = 0;
    let runDirBytes = 0;
    for (const id of dirs) {
      if (await known(id)) continue;
      const path = join(runsDir, id);
      // A directory with no row and no deleted row: a run just starting (its row comes a moment later) or one an older gc left.
      if (!hadRow.has(id) && Date.now() - ((await lstat(path).catch(() => undefined))?.mtimeMs ?? 0) < graceMs) continue;
      runDirBytes += await treeBytes(path);
      await rm(path, { recursive: true, force: true });
      runDirs += 1;
    }
    const database = await store.compact({ minFreeShare: VACUUM_FREE_SHARE });
    const shrunk = database ? Math.max(0, database.before - database.after) : 0;
    return {
      runs,
      blobs: blobs.blobs,
      bytes: blobs.bytes,
      runDirs,
      runDirBytes,
      ...(database ? { database } : {}),
      freed: blobs.bytes + runDirBytes + shrunk,
    };
  });
  if (options.json) io.out(JSON.stringify(result));
  else io.out(describe(result, days));
  return 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function describe(r: GcResult, days: number): string {
  const parts = [
    `deleted ${plural(r.runs, "run")} older than ${plural(days, "day")}`,
    `removed ${plural(r.blobs, "unreferenced blob")} (${formatBytes(r.bytes)}) and ${plural(r.runDirs, "run directory").replace(/directorys$/, "directories")} (${formatBytes(r.runDirBytes)})`,
  ];
  const db = r.database;
  if (db?.vacuumed) parts.push(`compacted the database from ${formatBytes(db.before)} to ${formatBytes(db.after)}`);
  else if (db) parts.push(`database not compacted (${Math.round(db.freeShare * 100)}% free, under ${VACUUM_FREE_SHARE * 100}%)`);
  return `${parts.join("; ")}; freed ${formatBytes(r.freed)}`;
}
