/**
 * A queue node: one process that runs embedded workers and competes for the
 * reaper, over the store given by `GANTRY_DATABASE_URL` (else SQLite in
 * `GANTRY_STATE_DIR`). `gantry server` composes the same parts with its HTTP
 * API; this entry lets the crash tests and the benchmark start, SIGKILL and
 * restart worker processes without HTTP.
 *
 *   node dist/server/queue-node.js   (env: GANTRY_STATE_DIR, GANTRY_DATABASE_URL, GANTRY_WORKERS,
 *                                     GANTRY_LEASE_MS, GANTRY_REAPER_MS, GANTRY_QUARANTINE_AFTER)
 *
 * Prints `ready` on stdout once it claims; SIGTERM drains and exits 0.
 * Jobs see `GANTRY_WORKER_PID` (this process) in their env.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createStoreSource } from "../queue/store-source.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import { startReaper, type Reaper } from "./reaper.js";
import { startWorkers, type Workers } from "./workers.js";

export interface QueueNodeOptions {
  readonly stateDir: string;
  readonly databaseUrl?: string;
  readonly workers: number;
  readonly leaseMs: number;
  readonly reaperMs: number;
  readonly quarantineAfter: number;
  readonly id?: string;
  readonly onError?: (error: Error) => void;
}

export interface QueueNode {
  readonly store: Store;
  readonly workers: Workers;
  readonly reaper: Reaper;
  stop(drainMs?: number): Promise<void>;
}

export async function startQueueNode(options: QueueNodeOptions): Promise<QueueNode> {
  const store = await openStore({
    repoDir: options.stateDir,
    stateDir: options.stateDir,
    ...(options.databaseUrl ? { url: options.databaseUrl } : {}),
    env: {},
  });
  const id = options.id ?? `${hostname()}:${process.pid}`;
  const workers = startWorkers({
    source: createStoreSource(store, { leaseMs: options.leaseMs, pollMs: 100 }),
    count: options.workers,
    id,
    dataDir: join(options.stateDir, "node", String(process.pid)),
    processEnv: { ...process.env, GANTRY_WORKER_PID: String(process.pid) },
    ...(options.onError ? { onError: options.onError } : {}),
  });
  const reaper = startReaper(store, {
    holder: id,
    intervalMs: options.reaperMs,
    quarantineAfter: options.quarantineAfter,
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return {
    store,
    workers,
    reaper,
    async stop(drainMs = 60_000) {
      await workers.stop({ drainMs });
      await reaper.stop();
      await store.close();
    },
  };
}

async function main(): Promise<void> {
  const env = process.env;
  const node = await startQueueNode({
    stateDir: env.GANTRY_STATE_DIR ?? join(process.cwd(), ".gantry", "state"),
    ...(env.GANTRY_DATABASE_URL ? { databaseUrl: env.GANTRY_DATABASE_URL } : {}),
    workers: Number(env.GANTRY_WORKERS ?? 4),
    leaseMs: Number(env.GANTRY_LEASE_MS ?? 30_000),
    reaperMs: Number(env.GANTRY_REAPER_MS ?? 5000),
    quarantineAfter: Number(env.GANTRY_QUARANTINE_AFTER ?? 3),
    onError: (error) => process.stderr.write(`queue node: ${error.message}\n`),
  });
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => {
    void node.stop().then(() => process.exit(0));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    process.stderr.write(`queue node: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
