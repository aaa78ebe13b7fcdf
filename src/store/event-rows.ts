/**
 * The store rows that an event stands for, shared by the store writer (`gantry run`) and the
 * server queue's transitions (`store/queue/sql-advance.ts`), so both record an event the same way.
 */
import type { GantryEvents } from "../core/events.js";
import type { StoreOp } from "./store.js";

type Event<K extends keyof GantryEvents> = GantryEvents[K] & { readonly type: K };

/** The step row of a `step.started` or `step.finished` event. */
export function stepOp(e: Event<"step.started"> | Event<"step.finished">): StoreOp {
  if (e.type === "step.started") {
    return {
      op: "step",
      step: {
        runId: e.runId,
        jobId: e.jobId,
        stepIndex: e.stepIndex,
        name: e.name,
        status: "running",
        attempts: e.attempt,
        ...(e.attempt === 1 ? { startedAt: e.ts } : {}),
      },
    };
  }
  return {
    op: "step",
    step: {
      runId: e.runId,
      jobId: e.jobId,
      stepIndex: e.stepIndex,
      name: e.name,
      status: e.status,
      attempts: e.attempts,
      exitCode: e.exitCode,
      reason: e.reason ?? null,
      finishedAt: e.ts,
      durationMs: e.durationMs,
    },
  };
}

/** The artifact row of an `artifact.saved` event. */
export function artifactOp(e: Event<"artifact.saved">): StoreOp {
  return { op: "artifact", artifact: { runId: e.runId, jobId: e.jobId, name: e.name, hash: e.hash, size: e.size, createdAt: e.ts } };
}

/** The cache row of a `cache.saved` event. */
export function cacheOp(e: Event<"cache.saved">): StoreOp {
  return { op: "cache", entry: { key: e.key, runId: e.runId, jobId: e.jobId, paths: e.paths, createdAt: e.ts } };
}
