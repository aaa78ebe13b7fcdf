/**
 * Open the configured store: PostgreSQL when `GANTRY_DATABASE_URL` (or
 * `url`) is set, else SQLite at `<repo>/.gantry/state/gantry.db`. Migrates,
 * writes what runs of dead processes left in `<stateDir>/pending/` (the
 * store was down when they ended), then marks runs whose process died as
 * `interrupted` (not those whose pending copy is still unwritten: their
 * record is incomplete, not interrupted).
 */
import { join } from "node:path";
import { isOwnerAlive } from "./owner.js";
import { PENDING_DIR, replayPending } from "./pending.js";
import { openPostgresStore } from "./postgres-store.js";
import { openSqliteStore } from "./sqlite-store.js";
import type { Store } from "./store.js";

export interface OpenStoreOptions {
  /** The repository root; the state lives in `<repoDir>/.gantry/state`. */
  readonly repoDir: string;
  /** Override the state directory (SQLite file and blobs). */
  readonly stateDir?: string;
  /** A PostgreSQL URL; default `env.GANTRY_DATABASE_URL`. */
  readonly url?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Skip marking dead runs (a read-only command may still do it; default false). */
  readonly skipRecovery?: boolean;
}

export function stateDirOf(repoDir: string): string {
  return join(repoDir, ".gantry", "state");
}

/** Where a run keeps what the store did not take (see `pending.ts`). */
export function pendingDirOf(stateDir: string): string {
  return join(stateDir, PENDING_DIR);
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const env = options.env ?? process.env;
  const stateDir = options.stateDir ?? stateDirOf(options.repoDir);
  const url = options.url ?? (env.GANTRY_DATABASE_URL || undefined);
  const store = url
    ? openPostgresStore({ url, blobDir: join(stateDir, "blobs") })
    : openSqliteStore({ path: join(stateDir, "gantry.db"), blobDir: join(stateDir, "blobs") });
  try {
    await store.migrate();
    if (!options.skipRecovery) {
      const pending = await replayPending(store, pendingDirOf(stateDir), (owner) => isOwnerAlive(owner));
      const incomplete = new Set(pending.left.map((p) => p.runId));
      const running =
        incomplete.size === 0 ? [] : (await store.runs.list({ status: "running", limit: 10_000 })).filter((r) => incomplete.has(r.id));
      const keep = new Set(running.map((r) => r.owner?.pid));
      await store.runs.markInterrupted((owner) => keep.has(owner.pid) || isOwnerAlive(owner));
    }
    return store;
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}
