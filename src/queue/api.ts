/**
 * The seam between the server's HTTP side and the queue (issue 12,
 * `notes/seam.md`): what the routes call to start, stop and watch runs. The
 * HTTP side never touches the queue's SQL; it gets an `Orchestrator` and a
 * `RunEvents` from `createApp(deps)`.
 *
 * Every state change is ONE store transaction together with its queue change
 * and, when an `AuditEntry` is given, exactly one audit row.
 */
import type { GantryEvent } from "../core/events.js";
import type { Plan } from "../core/plan-types.js";

/** Who did a state change; written as ONE audit row in the SAME transaction as the change. */
export interface AuditEntry {
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** What started a run (stored with it; `GET /runs/{id}` shows it). */
export interface RunTrigger {
  readonly kind: "api" | "cli" | "rerun" | "hook" | "schedule" | "pipeline";
  /** Who: `token:<id>`, `hook:<provider>`, ... */
  readonly by?: string;
  /** A webhook's event: `push` or `pull_request`. */
  readonly event?: string;
  /** The forge user who pushed or opened the pull request. */
  readonly sender?: string;
  /** The webhook delivery that started it (`GET /api/v1/hooks/deliveries/{id}`). */
  readonly delivery?: string;
  readonly pullRequest?: number;
}

export interface RunRequest {
  readonly repo: string;
  readonly workflow: string;
  readonly file: string;
  readonly plan: Plan;
  /** The workflow bundle, already stored (content-addressed, `store.plans.putBundle`). */
  readonly bundleHash: string;
  /** Blob hash of the repository tar of the pinned commit's tree (`store.artifacts.putBlob`). */
  readonly snapshot?: string;
  readonly commit?: string;
  readonly ref?: string;
  readonly trigger: RunTrigger;
  readonly inputs?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string>>;
  /** Caller-chosen id; submitting the same id twice returns the first run. */
  readonly runId?: string;
  /** Cancel the rest of the run after the first failure (`--fail-fast`); default: the plan's `failFast`. */
  readonly failFast?: boolean;
}

export interface QuarantinedEntry {
  readonly entry: string;
  readonly runId: string;
  readonly jobId: string;
  readonly reason: string;
  readonly at: number;
}

export interface QueueSummary {
  /** By entry state: available, claimed, done, quarantined. */
  readonly counts: Readonly<Record<string, number>>;
  readonly quarantined: readonly QuarantinedEntry[];
}

export interface Orchestrator {
  /** One transaction: the run row, its jobs, the first ready jobs queued, and the audit row. */
  submit(req: RunRequest, audit?: AuditEntry): Promise<{ readonly runId: string }>;
  /** Jobs not claimed yet end `cancelled` (or run, for `always()`/`cancelled()`); claimed ones are told at their next write. */
  cancel(runId: string, audit?: AuditEntry): Promise<void>;
  /** A new run with the same plan, bundle and snapshot; `failed`: only what failed and what needs it. */
  rerun(runId: string, opts: { readonly failed: boolean }, audit?: AuditEntry): Promise<{ readonly runId: string }>;
  queue(): Promise<QueueSummary>;
  /** Put a quarantined entry back as available (a new attempt, kill count reset). */
  requeue(entry: string, audit?: AuditEntry): Promise<void>;
}

export interface StoredRunEvent {
  readonly seq: number;
  readonly event: GantryEvent;
}

/** The per-run event log behind SSE: `seq` is a per-run sequence starting at 1, no gaps. */
export interface RunEvents {
  read(runId: string, after: number, limit?: number): Promise<readonly StoredRunEvent[]>;
  /**
   * Called when new events of the run were committed by ANY server process
   * (in-process wake-up; PostgreSQL LISTEN/NOTIFY as a hint plus polling).
   * Returns an unsubscribe function.
   */
  subscribe(runId: string, onNew: () => void): () => void;
}
