/**
 * Webhook deliveries and the commit-status outbox in the store
 * (`store.hooks`, migration 8). The server's hook side (`server/hooks/`)
 * is the only caller.
 *
 * Contract:
 *
 * - `receive` stores a verified delivery and its audit row in ONE
 *   transaction, before the server answers. The same `(repo, provider,
 *   delivery)` again writes nothing (no second audit row) and returns the
 *   first delivery with `created: false`.
 * - `claim` takes the oldest delivery that is `pending` with `run_after`
 *   passed, or `processing` with an expired lease (its holder crashed), sets
 *   it `processing` for `holder` until `now + leaseMs` and counts an attempt.
 *   At most one caller gets a given delivery per lease, across processes.
 *   Processing must be idempotent (a delivery whose holder was slow past its
 *   lease can be processed twice): runs are submitted with ids derived from
 *   the delivery, so a second pass starts nothing new.
 * - `settle` ends the holder's claim: `done`/`failed` with a result, or back
 *   to `pending` until `runAfter` (a retry). False when `holder` no longer
 *   holds it (nothing written).
 * - `addStatus` (idempotent per run) queues a run's commit status;
 *   `dueStatuses` lists rows whose `next_at` passed and whose run state was
 *   not reported yet; `statusReported` records what was posted (or the error
 *   and the next try).
 */
import type { NewAuditEntry } from "./store.js";

export type HookDeliveryState = "pending" | "processing" | "done" | "failed";

export interface NewHookDelivery {
  readonly id: string;
  readonly repo: string;
  readonly provider: string;
  /** The provider's delivery id (X-GitHub-Delivery, X-Gitea-Delivery, X-Gitlab-Event-UUID, ...). */
  readonly delivery: string;
  /** The normalised event (JSON-serialisable). */
  readonly event: unknown;
  /** SHA-256 (hex) of the raw body. */
  readonly bodyHash: string;
  readonly receivedAt: number;
}

export interface HookDeliveryRecord extends NewHookDelivery {
  readonly state: HookDeliveryState;
  readonly attempts: number;
  readonly finishedAt: number | null;
  readonly result: unknown;
}

export interface HookStatusRecord {
  readonly runId: string;
  readonly deliveryId: string;
  /** Where to report (JSON-serialisable; `server/hooks/status.ts`). */
  readonly target: unknown;
  /** The state last posted ("" = none yet; "abandoned" after the last retry). */
  readonly reported: string;
  readonly attempts: number;
  /** The run's status now (joined from `runs`). */
  readonly runStatus: string;
}

export interface HookStore {
  receive(delivery: NewHookDelivery, audit: NewAuditEntry): Promise<{ readonly created: boolean; readonly delivery: HookDeliveryRecord }>;
  claim(holder: string, leaseMs: number, now?: number): Promise<HookDeliveryRecord | undefined>;
  settle(
    id: string,
    holder: string,
    outcome:
      | { readonly state: "done" | "failed"; readonly result: unknown }
      | { readonly state: "pending"; readonly runAfter: number; readonly result: unknown },
    now?: number,
  ): Promise<boolean>;
  get(id: string): Promise<HookDeliveryRecord | undefined>;
  /** Newest first. */
  list(query?: { readonly repo?: string; readonly limit?: number }): Promise<HookDeliveryRecord[]>;
  addStatus(row: { readonly runId: string; readonly deliveryId: string; readonly target: unknown }, now?: number): Promise<void>;
  dueStatuses(now?: number, limit?: number): Promise<HookStatusRecord[]>;
  statusReported(
    runId: string,
    outcome: { readonly reported: string } | { readonly error: string; readonly nextAt: number },
  ): Promise<void>;
}
