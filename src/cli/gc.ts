/**
 * `gantry gc --keep-days N`: delete finished runs that started more than N
 * days ago, with their jobs, steps, logs and artifact records, then the
 * plans, bundles and blobs nothing refers to any more. Running runs are kept.
 */
import { GantryError } from "../core/errors.js";
import { formatBytes } from "../reporters/format.js";
import type { CliIo } from "./io.js";
import { withStore, type HistoryDeps, type HistoryOptions } from "./runs.js";

export interface GcOptions extends HistoryOptions {
  readonly keepDays: number;
  readonly json?: boolean;
}

export interface GcDeps extends HistoryDeps {
  /** Blobs younger than this are kept even when unreferenced (a run may be about to record them); default 1 hour. */
  readonly blobGraceMs?: number;
}

export async function gcCommand(options: GcOptions, io: CliIo, deps: GcDeps = {}): Promise<number> {
  const days = options.keepDays;
  if (typeof days !== "number" || !Number.isFinite(days) || days < 0) {
    throw new GantryError("USAGE", `--keep-days: expected a number of days >= 0, got ${String(days)}`);
  }
  const now = (deps.now ?? Date.now)();
  const result = await withStore(options, deps, async (store) => {
    const runs = await store.runs.prune(now - days * 86_400_000);
    const blobs = await store.artifacts.sweepBlobs(deps.blobGraceMs);
    return { runs, blobs: blobs.blobs, bytes: blobs.bytes };
  });
  if (options.json) io.out(JSON.stringify(result));
  else
    io.out(
      `deleted ${result.runs} run${result.runs === 1 ? "" : "s"} older than ${days} day${days === 1 ? "" : "s"}; removed ${result.blobs} unreferenced blob${result.blobs === 1 ? "" : "s"} (${formatBytes(result.bytes)})`,
    );
  return 0;
}
