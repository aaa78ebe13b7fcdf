/**
 * Open the configured store: PostgreSQL when `GANTRY_DATABASE_URL` (or
 * `url`) is set, else SQLite at `<repo>/.gantry/state/gantry.db`. Migrates,
 * then marks runs whose process died as `interrupted`.
 */
import { join } from "node:path";
import { isOwnerAlive } from "./owner.js";
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

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const env = options.env ?? process.env;
  const stateDir = options.stateDir ?? stateDirOf(options.repoDir);
  const url = options.url ?? (env.GANTRY_DATABASE_URL || undefined);
  const store = url
    ? openPostgresStore({ url, blobDir: join(stateDir, "blobs") })
    : openSqliteStore({ path: join(stateDir, "gantry.db"), blobDir: join(stateDir, "blobs") });
  try {
    await store.migrate();
    if (!options.skipRecovery) await store.runs.markInterrupted((owner) => isOwnerAlive(owner));
    return store;
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
}
