/**
 * Where jobs come from, for whoever runs them: the ONE interface between the
 * queue and a worker. Embedded workers (`src/server/workers.ts`) use the
 * store-backed implementation (`store-source.ts`); remote agents will use an
 * HTTP implementation of the same interface and pass the same conformance
 * suite (`conformance.ts`).
 *
 * Call order for one job:
 *
 *   claim()                       -> work items, each with its Lease (attempt = fencing token)
 *   getBlob()*                    the repository snapshot, input artifacts
 *   heartbeat(lease)*             every leaseMs / 3 or so, until finish; says whether the run was cancelled
 *   putBlob(hash, path)*          BEFORE the `artifact.saved` / `cache.saved` event that names the blob
 *   append(lease, events)*        the job's events in order, in batches; resolved = committed ("acknowledged")
 *   finish(lease, result)         once, after the last append
 *
 * Fencing: `heartbeat`, `append` and `finish` reject with `GantryError` code
 * `LEASE_LOST` once the attempt no longer holds the lease (it expired and the
 * reaper gave the job to another attempt, or the run's entry is gone). The
 * worker must then kill the job's processes, write nothing more for it and
 * move on; nothing it sends afterwards is recorded.
 *
 * Idempotency: `putBlob` is content-addressed (a second put of a hash is a
 * no-op); `append` is not (a retry after an unknown outcome may duplicate a
 * batch, so a transport that retries must deduplicate, e.g. by batch sequence
 * number); `finish` of an attempt that already finished is refused as
 * `LEASE_LOST`. `claim` may be called by any number of workers at once.
 */
import type { JobStatus } from "../core/context.js";
import type { GantryEvent } from "../core/events.js";
import type { Plan } from "../core/plan-types.js";
import type { JobResult, Lease, RunSpec } from "../store/queue/types.js";

export type { JobResult, Lease, RunSpec };

/** A finished job the claimed job needs (transitively): its result and artifact blobs. */
export interface NeedResult {
  readonly status: JobStatus;
  readonly outputs: Readonly<Record<string, string>>;
  readonly artifacts: Readonly<Record<string, { readonly hash: string; readonly size: number }>>;
}

export interface WorkItem {
  readonly lease: Lease;
  readonly leaseExpiresAt: number;
  readonly plan: Plan;
  readonly spec: RunSpec;
  /** The run was cancelled: only `always()`/`cancelled()` jobs are handed out then, to run after the cancel. */
  readonly cancelRequested: boolean;
  /** Every job the claimed job needs, directly or not. */
  readonly needs: Readonly<Record<string, NeedResult>>;
}

export interface WorkSource {
  /** Up to `max` jobs; waits up to `waitMs` (default 0) for one when none is available, or until `signal` aborts. */
  claim(request: {
    readonly workerId: string;
    readonly max: number;
    readonly waitMs?: number;
    readonly signal?: AbortSignal;
  }): Promise<WorkItem[]>;
  heartbeat(lease: Lease): Promise<{ readonly cancelRequested: boolean }>;
  append(lease: Lease, events: readonly GantryEvent[]): Promise<void>;
  /** Store a file under its SHA-256 (checked). */
  putBlob(lease: Lease, hash: string, path: string): Promise<void>;
  /** Copy a stored blob to `destPath`, checked against its hash (`BLOB_CORRUPT` when it does not match, nothing written); false when there is no such blob. */
  getBlob(hash: string, destPath: string): Promise<boolean>;
  /** The code of a workflow bundle (stored by hash). */
  bundle(hash: string): Promise<string | undefined>;
  finish(lease: Lease, result: JobResult): Promise<void>;
  /** The lease duration this source grants, in ms (heartbeat well before it ends). */
  readonly leaseMs: number;
}
