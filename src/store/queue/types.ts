/**
 * The server's queue in the store (`store.queue`, migration 5): runs advanced
 * one transaction per transition, job attempts claimed with a lease and a
 * fencing token, a reaper for expired leases, a quarantine for poison entries
 * and the per-run event log.
 *
 * Contract:
 *
 * - `submit` writes the run, its jobs and steps, `run.started`, the first
 *   decisions (`core/schedule.ts`: ready jobs queued, others skipped) and the
 *   audit row in ONE transaction. The same `id` twice returns the first run.
 * - `claim` hands out up to `max` available entries, oldest first. Each claim
 *   increments the entry's `attempt` (the fencing token), sets `worker_id` and
 *   `lease_expires_at = now + leaseMs`, and records a `queue_attempts` row, in
 *   one transaction. An entry whose payload cannot be decoded is quarantined
 *   in the same transaction and not handed out: it never blocks the queue.
 *   PostgreSQL: one `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED
 *   LIMIT n) ... RETURNING` over the partial index of available rows; SQLite:
 *   the same under `BEGIN IMMEDIATE`. Any number of claimers may run at once,
 *   in any number of processes; no entry is handed to two of them.
 * - Every later write for the attempt (`heartbeat`, `append`, `finish`)
 *   carries its `Lease` and is refused with `GantryError` code `LEASE_LOST`
 *   (nothing written) once the attempt is not the entry's current claim or
 *   its lease expired (by the writer's clock): the worker must then kill
 *   the job's processes and drop it. `heartbeat` extends the lease and says
 *   whether the run was cancelled.
 * - `append` stores events of the attempt's job under the fencing check: each
 *   gets the run's next `seq` (1, 2, 3 ... per run, no gaps) in `run_events`,
 *   and its rows (job, steps, log chunk, artifact, cache entry) are written
 *   in the same transaction. Once it resolves, the events are committed
 *   ("acknowledged"). `job.finished` and `run.*` events are not accepted
 *   there: `finish` and the run's transitions write them.
 * - `finish` ends the attempt and, in the same transaction, writes the job's
 *   final row and `job.finished`, decides the jobs that became ready (queued
 *   or skipped), and finishes the run when every job is final.
 * - `reap` (one sweep; the caller holds the `reaper` leader lease) takes every
 *   claimed entry whose lease expired: its attempt ends `lost`; the entry is
 *   quarantined when its `lost` count reaches `quarantineAfter` (a job that
 *   kills its worker), else requeued as a new attempt while `attempt <
 *   max_attempts`, else its job ends `failed` with the reason "worker lost".
 *   Leases not expired are left alone.
 * - `cancel` marks the run cancelled and decides again in one transaction:
 *   queued jobs end skipped unless `always()`/`cancelled()`; claimed jobs are
 *   told by their next `heartbeat`.
 * - `acquireLeader(name, holder, ttlMs)` takes or renews a named lease row;
 *   true while `holder` has it. One holder at a time across processes.
 *
 * Times are epoch milliseconds from the caller's clock (`now`, default
 * `Date.now()`); servers sharing a database need roughly synchronised clocks
 * (leases are tens of seconds; skew must stay well under that).
 */
import type { JobStatus, RunStatus } from "../../core/context.js";
import type { GantryEvent } from "../../core/events.js";
import type { Plan } from "../../core/plan-types.js";
import type { NewAuditEntry } from "../store.js";

/** What identifies one claimed attempt: every write of a worker carries it. */
export interface Lease {
  readonly entry: string;
  readonly runId: string;
  readonly jobId: string;
  /** The fencing token: the entry's attempt number at the claim. */
  readonly attempt: number;
  readonly workerId: string;
}

/** What a server run keeps besides its plan (stored as JSON in `run_state.request`). */
export interface RunSpec {
  readonly repo: string;
  readonly bundleHash: string;
  readonly snapshot?: string;
  readonly commit?: string;
  readonly ref?: string;
  /** What started the run (`RunTrigger` of `queue/api.ts`: kind, by, and a webhook's event, sender and delivery). */
  readonly trigger: {
    readonly kind: string;
    readonly by?: string;
    readonly event?: string;
    readonly sender?: string;
    readonly delivery?: string;
    readonly pullRequest?: number;
  };
  readonly inputs?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string>>;
}

export interface NewServerRun {
  readonly id: string;
  readonly plan: Plan;
  readonly spec: RunSpec;
  readonly failFast: boolean;
  /** `runs.trigger` ("api", "rerun", ...). */
  readonly trigger: string;
  readonly parentRunId?: string | null;
  /** Jobs to run (default: all); a rerun passes the others in `reused`. */
  readonly jobIds?: readonly string[];
  /** Jobs taken final from an earlier run (rerun --failed): status and outputs. */
  readonly reused?: Readonly<Record<string, { readonly status: JobStatus; readonly outputs: Readonly<Record<string, string>> }>>;
  /** Max attempts of each job's queue entry (default: 3, or the job's retry attempts when higher). */
  readonly maxAttempts?: number;
  readonly startedAt?: number;
}

export interface ClaimedJob {
  readonly lease: Lease;
  readonly leaseExpiresAt: number;
  readonly planHash: string;
  readonly spec: RunSpec;
  /** The run was cancelled before the claim: only `always()`/`cancelled()` jobs are handed out then. */
  readonly cancelRequested: boolean;
}

export interface JobResult {
  readonly status: JobStatus;
  readonly attempts: number;
  readonly outputs: Readonly<Record<string, string>>;
  readonly durationMs: number;
  readonly reason?: string;
  readonly cacheKey?: { readonly inputsHash: string; readonly envHash: string };
  /** When the job's output went past its log limit: the limit and the bytes not kept (as on `job.finished`). */
  readonly logLimit?: number;
  readonly logTruncatedBytes?: number;
}

export interface ReapResult {
  readonly requeued: readonly string[];
  readonly failed: readonly string[];
  readonly quarantined: readonly string[];
}

export interface QueueEntryRecord {
  readonly entry: string;
  readonly runId: string;
  readonly jobId: string;
  readonly state: "available" | "claimed" | "done" | "quarantined";
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly lost: number;
  readonly workerId: string | null;
  readonly leaseExpiresAt: number | null;
  readonly reason: string | null;
  readonly updatedAt: number;
}

export interface AttemptRecord {
  readonly entry: string;
  readonly runId: string;
  readonly jobId: string;
  readonly attempt: number;
  readonly workerId: string;
  readonly claimedAt: number;
  readonly endedAt: number | null;
  readonly outcome: "finished" | "lost" | "cancelled" | null;
}

export interface ServerRunState {
  readonly runId: string;
  readonly repo: string;
  readonly spec: RunSpec;
  readonly failFast: boolean;
  readonly cancelRequested: boolean;
  readonly lastSeq: number;
  readonly status: RunStatus;
}

export interface QueueStore {
  submit(run: NewServerRun, audit?: NewAuditEntry): Promise<{ readonly runId: string; readonly created: boolean }>;
  claim(request: {
    readonly workerId: string;
    readonly max: number;
    readonly leaseMs: number;
    readonly now?: number;
  }): Promise<ClaimedJob[]>;
  heartbeat(lease: Lease, leaseMs: number, now?: number): Promise<{ readonly leaseExpiresAt: number; readonly cancelRequested: boolean }>;
  append(lease: Lease, events: readonly GantryEvent[], now?: number): Promise<{ readonly lastSeq: number }>;
  finish(lease: Lease, result: JobResult, now?: number): Promise<void>;
  cancel(runId: string, audit?: NewAuditEntry, now?: number): Promise<void>;
  reap(options: { readonly quarantineAfter: number; readonly now?: number }): Promise<ReapResult>;
  /** Put a quarantined entry back (available, `lost` reset); `NOT_FOUND` when there is no such quarantined entry. */
  requeue(entry: string, audit?: NewAuditEntry, now?: number): Promise<void>;
  acquireLeader(name: string, holder: string, ttlMs: number, now?: number): Promise<boolean>;
  releaseLeader(name: string, holder: string): Promise<void>;
  /** Entries by state, and the quarantined ones (oldest first, at most `limit`, default 100). */
  summary(limit?: number): Promise<{ counts: Record<string, number>; quarantined: QueueEntryRecord[] }>;
  entries(runId: string): Promise<QueueEntryRecord[]>;
  attempts(runId?: string): Promise<AttemptRecord[]>;
  state(runId: string): Promise<ServerRunState | undefined>;
  /** Events of a run after `after`, by `seq` (at most `limit`, default 1,000). */
  readEvents(runId: string, after: number, limit?: number): Promise<{ readonly seq: number; readonly event: GantryEvent }[]>;
  /** In-process wake-ups after a commit: `available` (entries were queued) and `events` (of a run). Returns an unsubscribe function. */
  onChange(listener: (change: { readonly kind: "available" } | { readonly kind: "events"; readonly runId: string }) => void): () => void;
}
