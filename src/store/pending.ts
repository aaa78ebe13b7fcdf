/**
 * The local copy of what a run could not record: when the store stays
 * unreachable, the writer appends the batches it holds, in order, to
 * `<stateDir>/pending/<runId>.jsonl` (fsync'd), and at the end of the run
 * says so. The first line is a header naming the run and its owner; each
 * further line is one batch (`StoreOp[]`), to be written in order, each in one
 * transaction. The writes are idempotent upserts, so replaying a batch that
 * had already committed changes nothing.
 *
 * `replayPending` (called by `openStore` before marking dead runs) writes the
 * files of runs whose owner is gone and deletes them; a file whose owner is
 * alive belongs to a run still going on, which replays it itself.
 */
import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { coerceError } from "../core/errors.js";
import type { RunOwner, Store, StoreOp } from "./store.js";

export const PENDING_DIR = "pending";

interface Header {
  readonly pending: 1;
  readonly runId: string;
  readonly owner: RunOwner;
}

export class PendingFile {
  private started = false;
  /** Batches appended and not yet replayed. */
  batches = 0;

  constructor(
    readonly path: string,
    private readonly runId: string,
    private readonly owner: RunOwner,
  ) {}

  /** Append batches (fsync'd before it resolves). */
  async append(batches: ReadonlyArray<readonly StoreOp[]>): Promise<void> {
    if (batches.length === 0) return;
    let text = "";
    if (!this.started) {
      await mkdir(join(this.path, ".."), { recursive: true });
      const header: Header = { pending: 1, runId: this.runId, owner: this.owner };
      text += `${JSON.stringify(header)}\n`;
    }
    for (const batch of batches) text += `${JSON.stringify(batch)}\n`;
    const handle = await open(this.path, this.started ? "a" : "w");
    try {
      await handle.write(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.started = true;
    this.batches += batches.length;
  }

  read(): Promise<StoreOp[][]> {
    return readBatches(this.path).then((r) => r.batches);
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
    this.started = false;
    this.batches = 0;
  }
}

async function readBatches(path: string): Promise<{ header: Header | undefined; batches: StoreOp[][] }> {
  const lines = (await readFile(path, "utf8")).split("\n");
  let header: Header | undefined;
  const batches: StoreOp[][] = [];
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // A torn last line (the process died while appending): that batch was never acknowledged.
      if (i >= lines.length - 2) break;
      throw new Error(`${path}: line ${i + 1} is not JSON`);
    }
    if (i === 0 && !Array.isArray(value)) header = value as Header;
    else batches.push(value as StoreOp[]);
  }
  return { header, batches };
}

export interface ReplayResult {
  /** Runs whose pending batches are now in the store. */
  readonly replayed: string[];
  /** Runs whose file is still there (owner alive, or the write failed), with why. */
  readonly left: Array<{ runId: string; path: string; why: string }>;
}

/** Write the pending files of dead owners into `store`, in order, then delete them. */
export async function replayPending(store: Store, dir: string, isAlive: (owner: RunOwner) => boolean): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], left: [] };
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".jsonl")).sort();
  } catch {
    return result;
  }
  for (const name of names) {
    const path = join(dir, name);
    const runId = name.slice(0, -".jsonl".length);
    try {
      const { header, batches } = await readBatches(path);
      if (header && isAlive(header.owner)) {
        result.left.push({ runId, path, why: `its run is still going on (pid ${header.owner.pid})` });
        continue;
      }
      for (const batch of batches) await store.write(batch);
      await rm(path, { force: true });
      result.replayed.push(header?.runId ?? runId);
    } catch (error) {
      result.left.push({ runId, path, why: coerceError(error).message });
    }
  }
  return result;
}
