/**
 * The reaper: one at a time across every server on the database, elected
 * with the `reaper` leader lease (`store.queue.acquireLeader`, a row that
 * works on both backends). Every `intervalMs` the process that holds (or
 * takes) the lease sweeps once: expired job leases are requeued as new
 * attempts, failed "worker lost", or quarantined (`store.queue.reap`).
 */
import { hostname } from "node:os";
import { coerceError } from "../core/errors.js";
import type { ReapResult } from "../store/queue/types.js";
import type { Store } from "../store/store.js";

export interface ReaperOptions {
  /** Who competes for the lease (default host:pid). */
  readonly holder?: string;
  /** Time between sweeps (default 5 s); the leader lease lasts three times that. */
  readonly intervalMs?: number;
  /** A job whose worker was lost this many times is quarantined (default 3). */
  readonly quarantineAfter?: number;
  readonly onSweep?: (result: ReapResult) => void;
  readonly onError?: (error: Error) => void;
}

export interface Reaper {
  /** One sweep now, if this process holds (or takes) the lease; undefined when another one does. */
  sweep(): Promise<ReapResult | undefined>;
  stop(): Promise<void>;
}

export function startReaper(store: Store, options: ReaperOptions = {}): Reaper {
  const holder = options.holder ?? `${hostname()}:${process.pid}`;
  const intervalMs = options.intervalMs ?? 5000;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;

  const sweep = async (): Promise<ReapResult | undefined> => {
    if (!(await store.queue.acquireLeader("reaper", holder, intervalMs * 3))) return undefined;
    const result = await store.queue.reap({ quarantineAfter: options.quarantineAfter ?? 3 });
    if (result.requeued.length + result.failed.length + result.quarantined.length > 0) options.onSweep?.(result);
    return result;
  };
  const timer = setInterval(() => {
    if (stopped) return;
    running = sweep().catch((error: unknown) => options.onError?.(coerceError(error)));
  }, intervalMs);
  timer.unref();

  return {
    sweep,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
      await store.queue.releaseLeader("reaper", holder).catch(() => undefined);
    },
  };
}
