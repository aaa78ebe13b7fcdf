/**
 * `QueueStore` over a `SqlDriver` (the contract is in `types.ts`). The SQL is
 * shared by SQLite and PostgreSQL except the claim (SKIP LOCKED on
 * PostgreSQL) and the row locks (`FOR UPDATE`, which SQLite does not need:
 * its transactions are `BEGIN IMMEDIATE`, one writer at a time).
 */
import { EventEmitter } from "node:events";
import { GantryError } from "../../core/errors.js";
import type { GantryEvent } from "../../core/events.js";
import type { Plan } from "../../core/plan-types.js";
import { writeAudit } from "../sql-audit.js";
import type { Row, SqlDriver, SqlRunner } from "../sql-driver.js";
import type { NewAuditEntry } from "../store.js";
import {
  advanceRun,
  appendRunEvents,
  applyJobEvent,
  decodePayload,
  finishJobRow,
  lockRun,
  type ApplyOp,
  type Dialect,
  type RunLock,
} from "./sql-advance.js";
import { submitRun } from "./sql-submit.js";
import type { AttemptRecord, ClaimedJob, Lease, QueueEntryRecord, QueueStore, RunSpec } from "./types.js";

/** Default max attempts of an entry (a job's own `retry.attempts` wins when higher). */
export const DEFAULT_MAX_ATTEMPTS = 3;

type Change = { readonly kind: "available" } | { readonly kind: "events"; readonly runId: string };

const lost = (lease: Lease, why: string): GantryError =>
  new GantryError("LEASE_LOST", `attempt ${lease.attempt} of job "${lease.jobId}" (run ${lease.runId}) no longer holds its lease: ${why}`);

function toEntry(r: Row): QueueEntryRecord {
  return {
    entry: String(r.id),
    runId: String(r.run_id),
    jobId: String(r.job_id),
    state: String(r.state) as QueueEntryRecord["state"],
    attempt: Number(r.attempt),
    maxAttempts: Number(r.max_attempts),
    lost: Number(r.lost),
    workerId: r.worker_id === null || r.worker_id === undefined ? null : String(r.worker_id),
    leaseExpiresAt: r.lease_expires_at === null || r.lease_expires_at === undefined ? null : Number(r.lease_expires_at),
    reason: r.reason === null || r.reason === undefined ? null : String(r.reason),
    updatedAt: Number(r.updated_at),
  };
}

export class SqlQueue implements QueueStore {
  private readonly changes = new EventEmitter();
  private readonly plans = new Map<string, Plan>();
  private readonly dialect: Dialect;

  constructor(
    private readonly db: () => SqlDriver,
    private readonly applyOp: ApplyOp,
    dialect: Dialect,
  ) {
    this.dialect = dialect;
    this.changes.setMaxListeners(0);
  }

  private get forUpdate(): string {
    return this.dialect === "postgres" ? " FOR UPDATE" : "";
  }

  /** One transaction, retried on a deadlock or serialization failure (PostgreSQL), then the wake-ups. */
  private async tx<T>(fn: (tx: SqlRunner) => Promise<T>, changes: Change[] = []): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.db().transaction(fn);
        for (const c of changes) this.changes.emit("change", c);
        if (this.dialect === "postgres" && changes.length > 0) {
          // A hint for other processes (LISTEN); polling stays the truth, so a lost notify only costs latency.
          await this.db()
            .run(`SELECT pg_notify('gantry_queue', ?)`, [changes.map((c) => (c.kind === "events" ? `e:${c.runId}` : "a")).join(",")])
            .catch(() => undefined);
        }
        return result;
      } catch (error) {
        const e = error as { cause?: { code?: string } };
        const code = e.cause?.code;
        if (attempt < 5 && (code === "40P01" || code === "40001")) continue;
        throw error;
      }
    }
  }

  private async plan(hash: string, tx: SqlRunner): Promise<Plan> {
    let plan = this.plans.get(hash);
    if (!plan) {
      const rows = await tx.all(`SELECT body FROM plans WHERE hash = ?`, [hash]);
      if (!rows[0]) throw new GantryError("NOT_FOUND", `the plan ${hash.slice(0, 12)} is not in the store`);
      plan = JSON.parse(String(rows[0].body)) as Plan;
      if (this.plans.size > 100) this.plans.clear();
      this.plans.set(hash, plan);
    }
    return plan;
  }

  private async planOfRun(tx: SqlRunner, runId: string): Promise<Plan> {
    const rows = await tx.all(`SELECT plan_hash FROM runs WHERE id = ?`, [runId]);
    return this.plan(String(rows[0]?.plan_hash ?? ""), tx);
  }

  private async advance(tx: SqlRunner, run: RunLock, now: number, changes: Change[]): Promise<void> {
    const result = await advanceRun(tx, run, await this.planOfRun(tx, run.runId), { now, maxAttempts: DEFAULT_MAX_ATTEMPTS });
    if (result.queued > 0) changes.push({ kind: "available" });
  }

  readonly submit: QueueStore["submit"] = async (run, audit) => {
    const changes: Change[] = [{ kind: "events", runId: run.id }];
    return this.tx(async (tx) => {
      const created = await submitRun(tx, run, this.applyOp);
      if (!created) return { runId: run.id, created: false };
      this.plans.set(run.plan.hash, run.plan);
      if (audit) await writeAudit(tx, audit);
      const lock = await lockRun(tx, this.dialect, run.id);
      if (lock) {
        const result = await advanceRun(tx, lock, run.plan, {
          now: run.startedAt ?? Date.now(),
          maxAttempts: run.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        });
        if (result.queued > 0) changes.push({ kind: "available" });
      }
      return { runId: run.id, created: true };
    }, changes);
  };

  readonly claim: QueueStore["claim"] = async ({ workerId, max, leaseMs, now = Date.now() }) => {
    const limit = Math.max(1, Math.min(Math.floor(max), 1000));
    const expires = now + leaseMs;
    return this.tx(async (tx) => {
      // PostgreSQL: the rows are locked by the inner SELECT and skipped by concurrent claimers.
      const rows =
        this.dialect === "postgres"
          ? await tx.all(
              `UPDATE queue_entries e SET state = 'claimed', attempt = e.attempt + 1, worker_id = ?, lease_expires_at = ?, updated_at = ?
               FROM (SELECT id FROM queue_entries WHERE state = 'available' AND run_after <= ? ORDER BY id LIMIT ${limit} FOR UPDATE SKIP LOCKED) c
               WHERE e.id = c.id
               RETURNING e.id, e.run_id, e.job_id, e.attempt, e.payload`,
              [workerId, expires, now, now],
            )
          : await tx.all(
              `UPDATE queue_entries SET state = 'claimed', attempt = attempt + 1, worker_id = ?, lease_expires_at = ?, updated_at = ?
               WHERE id IN (SELECT id FROM queue_entries WHERE state = 'available' AND run_after <= ? ORDER BY id LIMIT ${limit})
               RETURNING id, run_id, job_id, attempt, payload`,
              [workerId, expires, now, now],
            );
      const claimed: ClaimedJob[] = [];
      const runs = new Map<string, { planHash: string; spec: RunSpec; cancelRequested: boolean } | null>();
      for (const r of rows) {
        const entry = String(r.id);
        const runId = String(r.run_id);
        let run = runs.get(runId);
        if (run === undefined) {
          const found = await tx.all(
            `SELECT r.plan_hash, s.request, s.cancel_requested FROM runs r JOIN run_state s ON s.run_id = r.id WHERE r.id = ?`,
            [runId],
          );
          const f = found[0];
          let spec: RunSpec | undefined;
          try {
            spec = f ? (JSON.parse(String(f.request)) as RunSpec) : undefined;
          } catch {
            spec = undefined;
          }
          run =
            f && spec && f.plan_hash ? { planHash: String(f.plan_hash), spec, cancelRequested: Number(f.cancel_requested) === 1 } : null;
          runs.set(runId, run);
        }
        let why: string | undefined;
        try {
          decodePayload(String(r.payload));
          if (!run) why = "its run has no server state or plan";
        } catch (error) {
          why = `cannot decode the entry: ${(error as Error).message}`;
        }
        if (why !== undefined || !run) {
          await tx.run(
            `UPDATE queue_entries SET state = 'quarantined', reason = ?, worker_id = NULL, lease_expires_at = NULL WHERE id = ?`,
            [why ?? "undecodable", entry],
          );
          continue;
        }
        const attempt = Number(r.attempt);
        await tx.run(`INSERT INTO queue_attempts (entry_id, attempt, worker_id, claimed_at) VALUES (?, ?, ?, ?)`, [
          entry,
          attempt,
          workerId,
          now,
        ]);
        claimed.push({
          lease: { entry, runId, jobId: String(r.job_id), attempt, workerId },
          leaseExpiresAt: expires,
          planHash: run.planHash,
          spec: run.spec,
          cancelRequested: run.cancelRequested,
        });
      }
      return claimed;
    });
  };

  /** The fencing check: the entry's current claim is this attempt and its lease has not expired. Locks the entry row. */
  private async fence(tx: SqlRunner, lease: Lease, now: number): Promise<void> {
    const rows = await tx.all(`SELECT state, attempt, lease_expires_at FROM queue_entries WHERE id = ?${this.forUpdate}`, [lease.entry]);
    const r = rows[0];
    if (!r) throw lost(lease, "the entry is gone");
    if (String(r.state) !== "claimed" || Number(r.attempt) !== lease.attempt) {
      throw lost(lease, `the entry is ${String(r.state)} at attempt ${Number(r.attempt)}`);
    }
    if (Number(r.lease_expires_at) < now) throw lost(lease, "the lease expired");
  }

  readonly heartbeat: QueueStore["heartbeat"] = async (lease, leaseMs, now = Date.now()) =>
    this.tx(async (tx) => {
      await this.fence(tx, lease, now);
      await tx.run(`UPDATE queue_entries SET lease_expires_at = ?, updated_at = ? WHERE id = ?`, [now + leaseMs, now, lease.entry]);
      const rows = await tx.all(`SELECT cancel_requested FROM run_state WHERE run_id = ?`, [lease.runId]);
      return { leaseExpiresAt: now + leaseMs, cancelRequested: Number(rows[0]?.cancel_requested ?? 0) === 1 };
    });

  readonly append: QueueStore["append"] = async (lease, events, now = Date.now()) => {
    for (const e of events) {
      if (e.runId !== lease.runId || !("jobId" in e) || e.jobId !== lease.jobId || e.type === "job.finished") {
        throw new GantryError(
          "USAGE",
          `a worker may append only its own job's events (not ${e.type} of ${"jobId" in e ? e.jobId : e.runId})`,
        );
      }
    }
    return this.tx(
      async (tx) => {
        await this.fence(tx, lease, now);
        const run = await lockRun(tx, this.dialect, lease.runId);
        if (!run) throw new GantryError("NOT_FOUND", `run ${lease.runId} has no server state`);
        let chunk: number | undefined;
        const nextChunk = async (): Promise<number> => {
          if (chunk === undefined) {
            const rows = await tx.all(`SELECT COALESCE(MAX(seq), 0) AS s FROM log_chunks WHERE run_id = ? AND job_id = ?`, [
              lease.runId,
              lease.jobId,
            ]);
            chunk = Number(rows[0]?.s ?? 0);
          }
          return ++chunk;
        };
        for (const e of events) await applyJobEvent(tx, e, nextChunk, this.applyOp);
        return { lastSeq: await appendRunEvents(tx, lease.runId, events) };
      },
      [{ kind: "events", runId: lease.runId }],
    );
  };

  readonly finish: QueueStore["finish"] = async (lease, result, now = Date.now()) => {
    const changes: Change[] = [{ kind: "events", runId: lease.runId }];
    await this.tx(async (tx) => {
      await this.fence(tx, lease, now);
      await tx.run(`UPDATE queue_entries SET state = 'done', lease_expires_at = NULL, updated_at = ? WHERE id = ?`, [now, lease.entry]);
      await tx.run(`UPDATE queue_attempts SET ended_at = ?, outcome = 'finished' WHERE entry_id = ? AND attempt = ?`, [
        now,
        lease.entry,
        lease.attempt,
      ]);
      const run = await lockRun(tx, this.dialect, lease.runId);
      if (!run) throw new GantryError("NOT_FOUND", `run ${lease.runId} has no server state`);
      await appendRunEvents(tx, lease.runId, [await finishJobRow(tx, lease.runId, lease.jobId, result, now)]);
      await this.advance(tx, run, now, changes);
    }, changes);
  };

  readonly cancel: QueueStore["cancel"] = async (runId, audit, now = Date.now()) => {
    const changes: Change[] = [{ kind: "events", runId }];
    await this.tx(async (tx) => {
      const run = await lockRun(tx, this.dialect, runId);
      if (!run) throw new GantryError("NOT_FOUND", `no server run ${runId}`);
      if (audit) await writeAudit(tx, audit);
      if (run.cancelRequested) return;
      await tx.run(`UPDATE run_state SET cancel_requested = 1 WHERE run_id = ?`, [runId]);
      // Entries nobody claimed yet go back to the decision (skipped, or run for always()/cancelled()).
      const waiting = await tx.all(`SELECT id, job_id FROM queue_entries WHERE run_id = ? AND state = 'available'`, [runId]);
      for (const w of waiting) {
        await tx.run(`DELETE FROM queue_entries WHERE id = ?`, [String(w.id)]);
      }
      await this.advance(tx, { ...run, cancelRequested: true }, now, changes);
    }, changes);
  };

  readonly reap: QueueStore["reap"] = async ({ quarantineAfter, now = Date.now() }) => {
    const requeued: string[] = [];
    const failed: string[] = [];
    const quarantined: string[] = [];
    const changes: Change[] = [];
    await this.tx(async (tx) => {
      const expired = await tx.all(
        `SELECT id, run_id, job_id, attempt, max_attempts, lost FROM queue_entries WHERE state = 'claimed' AND lease_expires_at < ? ORDER BY id${
          this.dialect === "postgres" ? " FOR UPDATE SKIP LOCKED" : ""
        }`,
        [now],
      );
      for (const r of expired) {
        const entry = String(r.id);
        const runId = String(r.run_id);
        const jobId = String(r.job_id);
        const attempt = Number(r.attempt);
        const lostCount = Number(r.lost) + 1;
        await tx.run(`UPDATE queue_attempts SET ended_at = ?, outcome = 'lost' WHERE entry_id = ? AND attempt = ?`, [now, entry, attempt]);
        if (lostCount >= quarantineAfter) {
          const reason = `its worker was lost ${lostCount} times while running it (quarantined after ${quarantineAfter})`;
          await tx.run(
            `UPDATE queue_entries SET state = 'quarantined', lost = ?, reason = ?, worker_id = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?`,
            [lostCount, reason, now, entry],
          );
          await tx.run(`UPDATE jobs SET status = 'queued', reason = ? WHERE run_id = ? AND job_id = ?`, [
            `quarantined: ${reason}`,
            runId,
            jobId,
          ]);
          quarantined.push(entry);
        } else if (attempt >= Number(r.max_attempts)) {
          await tx.run(
            `UPDATE queue_entries SET state = 'done', lost = ?, reason = 'worker lost', lease_expires_at = NULL, updated_at = ? WHERE id = ?`,
            [lostCount, now, entry],
          );
          const run = await lockRun(tx, this.dialect, runId);
          if (run) {
            const reason = `worker lost: attempt ${attempt} of ${Number(r.max_attempts)} stopped renewing its lease`;
            const durationMs = 0;
            await appendRunEvents(tx, runId, [
              await finishJobRow(tx, runId, jobId, { status: "failure", attempts: attempt, outputs: {}, durationMs, reason }, now),
            ]);
            await this.advance(tx, run, now, changes);
            changes.push({ kind: "events", runId });
          }
          failed.push(entry);
        } else {
          await tx.run(
            `UPDATE queue_entries SET state = 'available', lost = ?, reason = ?, worker_id = NULL, lease_expires_at = NULL, run_after = ?, updated_at = ? WHERE id = ?`,
            [lostCount, `worker lost; requeued after attempt ${attempt}`, now, now, entry],
          );
          await tx.run(`UPDATE jobs SET status = 'queued', reason = ? WHERE run_id = ? AND job_id = ?`, [
            `worker lost during attempt ${attempt}; queued again`,
            runId,
            jobId,
          ]);
          changes.push({ kind: "available" });
          requeued.push(entry);
        }
      }
    }, changes);
    return { requeued, failed, quarantined };
  };

  readonly requeue: QueueStore["requeue"] = async (entry, audit, now = Date.now()) => {
    await this.tx(
      async (tx) => {
        const changed = await tx.run(
          `UPDATE queue_entries SET state = 'available', lost = 0, reason = NULL, run_after = ?, updated_at = ? WHERE id = ? AND state = 'quarantined'`,
          [now, now, /^\d+$/.test(entry) ? entry : "-1"],
        );
        if (changed === 0) throw new GantryError("NOT_FOUND", `no quarantined queue entry ${entry}`);
        if (audit) await writeAudit(tx, audit);
      },
      [{ kind: "available" }],
    );
  };

  readonly acquireLeader: QueueStore["acquireLeader"] = async (name, holder, ttlMs, now = Date.now()) => {
    const changed = await this.db().run(
      `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.expires_at < ? OR leases.holder = excluded.holder`,
      [name, holder, now + ttlMs, now],
    );
    return changed > 0;
  };

  readonly releaseLeader: QueueStore["releaseLeader"] = async (name, holder) => {
    await this.db().run(`DELETE FROM leases WHERE name = ? AND holder = ?`, [name, holder]);
  };

  readonly summary: QueueStore["summary"] = async (limit = 100) => {
    const counts: Record<string, number> = { available: 0, claimed: 0, done: 0, quarantined: 0 };
    for (const r of await this.db().all(`SELECT state, COUNT(*) AS n FROM queue_entries GROUP BY state`))
      counts[String(r.state)] = Number(r.n);
    const rows = await this.db().all(
      `SELECT * FROM queue_entries WHERE state = 'quarantined' ORDER BY updated_at, id LIMIT ${Math.max(1, Math.min(limit, 1000))}`,
    );
    return { counts, quarantined: rows.map(toEntry) };
  };

  readonly entries: QueueStore["entries"] = async (runId) =>
    (await this.db().all(`SELECT * FROM queue_entries WHERE run_id = ? ORDER BY id`, [runId])).map(toEntry);

  readonly attempts: QueueStore["attempts"] = async (runId) => {
    const rows = await this.db().all(
      `SELECT a.*, e.run_id, e.job_id FROM queue_attempts a JOIN queue_entries e ON e.id = a.entry_id ${runId === undefined ? "" : "WHERE e.run_id = ?"} ORDER BY a.entry_id, a.attempt`,
      runId === undefined ? [] : [runId],
    );
    return rows.map((r): AttemptRecord => ({
      entry: String(r.entry_id),
      runId: String(r.run_id),
      jobId: String(r.job_id),
      attempt: Number(r.attempt),
      workerId: String(r.worker_id),
      claimedAt: Number(r.claimed_at),
      endedAt: r.ended_at === null || r.ended_at === undefined ? null : Number(r.ended_at),
      outcome: r.outcome === null || r.outcome === undefined ? null : (String(r.outcome) as AttemptRecord["outcome"]),
    }));
  };

  readonly state: QueueStore["state"] = async (runId) => {
    const rows = await this.db().all(`SELECT s.*, r.status FROM run_state s JOIN runs r ON r.id = s.run_id WHERE s.run_id = ?`, [runId]);
    const r = rows[0];
    if (!r) return undefined;
    return {
      runId,
      repo: String(r.repo),
      spec: JSON.parse(String(r.request)) as RunSpec,
      failFast: Number(r.fail_fast) === 1,
      cancelRequested: Number(r.cancel_requested) === 1,
      lastSeq: Number(r.event_seq),
      status: String(r.status) as never,
    };
  };

  readonly readEvents: QueueStore["readEvents"] = async (runId, after, limit = 1000) => {
    const rows = await this.db().all(
      `SELECT seq, body FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ${Math.max(1, Math.min(limit, 10_000))}`,
      [runId, Math.max(0, Math.floor(after))],
    );
    return rows.map((r) => ({ seq: Number(r.seq), event: JSON.parse(String(r.body)) as GantryEvent }));
  };

  readonly onChange: QueueStore["onChange"] = (listener) => {
    this.changes.on("change", listener);
    return () => void this.changes.off("change", listener);
  };
}

export type { NewAuditEntry };
