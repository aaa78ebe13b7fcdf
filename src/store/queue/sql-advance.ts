/**
 * Run transitions inside a transaction: the event log (`run_events`, per-run
 * `seq` with no gaps), the rows an event stands for, and `advanceRun`, which
 * feeds the run's state to the scheduler's pure decision function
 * (`core/schedule.ts`) and writes its decisions: ready jobs queued, others
 * skipped, the run finished once every job is final.
 *
 * Callers lock the run first (`lockRun`): on PostgreSQL `SELECT ... FOR
 * UPDATE` on its `run_state` row, so two servers finishing two jobs of one
 * run decide one after the other and see each other's results.
 */
import type { JobStatus, RunStatus } from "../../core/context.js";
import type { GantryEvent } from "../../core/events.js";
import type { Plan, PlanJob } from "../../core/plan-types.js";
import { failureFacts, finalRunStatus, isFinalStatus, readyDecisions, type RunView } from "../../core/schedule.js";
import type { Row, SqlRunner, SqlValue } from "../sql-driver.js";
import { artifactOp, cacheOp, stepOp } from "../event-rows.js";
import type { StoreOp } from "../store.js";
import type { RunSpec } from "./types.js";

export type Dialect = "sqlite" | "postgres";

export interface RunLock {
  readonly runId: string;
  readonly repo: string;
  readonly spec: RunSpec;
  readonly failFast: boolean;
  readonly cancelRequested: boolean;
  readonly lastSeq: number;
}

/** Lock a server run's state row for the rest of the transaction; undefined when it is not a server run. */
export async function lockRun(tx: SqlRunner, dialect: Dialect, runId: string): Promise<RunLock | undefined> {
  const rows = await tx.all(`SELECT * FROM run_state WHERE run_id = ?${dialect === "postgres" ? " FOR UPDATE" : ""}`, [runId]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    runId,
    repo: String(r.repo),
    spec: JSON.parse(String(r.request)) as RunSpec,
    failFast: Number(r.fail_fast) === 1,
    cancelRequested: Number(r.cancel_requested) === 1,
    lastSeq: Number(r.event_seq),
  };
}

/** Append events to the run's log with the next sequence numbers; returns the last one. */
export async function appendRunEvents(tx: SqlRunner, runId: string, events: readonly GantryEvent[]): Promise<number> {
  if (events.length === 0) {
    const rows = await tx.all(`SELECT event_seq FROM run_state WHERE run_id = ?`, [runId]);
    return Number(rows[0]?.event_seq ?? 0);
  }
  const rows = await tx.all(`UPDATE run_state SET event_seq = event_seq + ? WHERE run_id = ? RETURNING event_seq`, [events.length, runId]);
  const last = Number(rows[0]?.event_seq ?? 0);
  let seq = last - events.length;
  for (let i = 0; i < events.length; i += 100) {
    const part = events.slice(i, i + 100);
    const params: SqlValue[] = [];
    for (const e of part) params.push(runId, ++seq, e.type, "jobId" in e ? e.jobId : null, e.ts, JSON.stringify(e));
    await tx.run(
      `INSERT INTO run_events (run_id, seq, type, job_id, ts, body) VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?)").join(", ")}`,
      params,
    );
  }
  return last;
}

export type ApplyOp = (tx: SqlRunner, op: StoreOp) => Promise<void>;

/** The rows an event of a job stands for (the same as the store writer writes for `gantry run`); `applyOp` is the store's. */
export async function applyJobEvent(tx: SqlRunner, e: GantryEvent, nextChunk: () => Promise<number>, applyOp: ApplyOp): Promise<void> {
  const ops: StoreOp[] = [];
  switch (e.type) {
    case "job.started":
      await tx.run(
        `UPDATE jobs SET status = 'running', attempts = ?, executor = ?, started_at = COALESCE(started_at, ?), location = NULL WHERE run_id = ? AND job_id = ?`,
        [e.attempt, e.executor, e.ts, e.runId, e.jobId],
      );
      return;
    case "job.location":
      ops.push({ op: "job", job: { runId: e.runId, jobId: e.jobId, location: e.location } });
      break;
    case "step.started":
    case "step.finished":
      ops.push(stepOp(e));
      break;
    case "log": {
      if (e.lines.length > 0) {
        const segments = [{ ts: e.ts, stream: e.stream, lines: e.lines }];
        ops.push({
          op: "logs",
          chunk: { runId: e.runId, jobId: e.jobId, stepIndex: e.stepIndex ?? null, seq: await nextChunk(), segments },
        });
      }
      break;
    }
    case "artifact.saved":
      ops.push(artifactOp(e));
      break;
    case "cache.saved":
      ops.push(cacheOp(e));
      break;
    default:
      return;
  }
  for (const op of ops) await applyOp(tx, op);
}

/** Write a job's final row and its `job.finished` event. */
export async function finishJobRow(
  tx: SqlRunner,
  runId: string,
  jobId: string,
  result: {
    status: JobStatus;
    attempts: number;
    outputs: Readonly<Record<string, string>>;
    durationMs: number;
    reason?: string;
    cacheKey?: { inputsHash: string; envHash: string };
    logLimit?: number;
    logTruncatedBytes?: number;
  },
  now: number,
): Promise<GantryEvent> {
  const key = result.status === "success" || result.status === "cached" ? result.cacheKey : undefined;
  const cut = result.logTruncatedBytes !== undefined;
  await tx.run(
    `UPDATE jobs SET status = ?, attempts = ?, outputs = ?, reason = ?, finished_at = ?, duration_ms = ?,
       started_at = COALESCE(started_at, ?), inputs_hash = COALESCE(?, inputs_hash), env_hash = COALESCE(?, env_hash),
       log_limit = ?, log_truncated_bytes = ?
     WHERE run_id = ? AND job_id = ?`,
    [
      result.status,
      result.attempts,
      JSON.stringify(result.outputs),
      result.reason ?? null,
      now,
      result.durationMs,
      now - result.durationMs,
      key?.inputsHash ?? null,
      key?.envHash ?? null,
      cut ? (result.logLimit ?? null) : null,
      cut ? (result.logTruncatedBytes ?? null) : null,
      runId,
      jobId,
    ],
  );
  return {
    type: "job.finished",
    runId,
    ts: now,
    jobId,
    status: result.status,
    attempts: result.attempts,
    durationMs: result.durationMs,
    outputs: result.outputs,
    ...(result.reason !== undefined ? { reason: result.reason } : {}),
    ...(key ? { cacheKey: key } : {}),
    ...(cut ? { logLimit: result.logLimit ?? 0, logTruncatedBytes: result.logTruncatedBytes ?? 0 } : {}),
  };
}

export interface AdvanceResult {
  readonly queued: number;
  readonly finished?: RunStatus;
}

/** The payload of a queue entry: what a worker needs besides the run's plan and spec. */
export function encodePayload(afterCancel: boolean): string {
  return JSON.stringify({ v: 1, afterCancel });
}

/** Throws when the payload is not one this Gantry can run. */
export function decodePayload(text: string): { afterCancel: boolean } {
  const value = JSON.parse(text) as unknown;
  if (typeof value !== "object" || value === null || (value as { v?: unknown }).v !== 1) {
    throw new Error(`unknown payload version ${JSON.stringify((value as { v?: unknown } | null)?.v)}`);
  }
  return { afterCancel: (value as { afterCancel?: unknown }).afterCancel === true };
}

/**
 * Decide every job of the run that can be decided now, write the decisions
 * (entries queued, jobs skipped with their `job.finished`), and finish the run
 * when every job is final. Call with the run locked.
 */
export async function advanceRun(
  tx: SqlRunner,
  run: RunLock,
  plan: Plan,
  options: { readonly now: number; readonly maxAttempts: number; readonly faulted?: boolean },
): Promise<AdvanceResult> {
  const { runId } = run;
  const statuses = new Map<string, JobStatus>();
  for (const r of await tx.all(`SELECT job_id, status FROM jobs WHERE run_id = ?`, [runId]))
    statuses.set(String(r.job_id), String(r.status) as JobStatus);
  const queued = new Set((await tx.all(`SELECT job_id FROM queue_entries WHERE run_id = ?`, [runId])).map((r: Row) => String(r.job_id)));
  const jobs: PlanJob[] = plan.jobs.filter((j) => statuses.has(j.id));
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const events: GantryEvent[] = [];
  let enqueued = 0;
  for (;;) {
    const facts = failureFacts(jobs, (id) => statuses.get(id));
    const view: RunView = {
      status: (id) => statuses.get(id),
      job: (id) => byId.get(id),
      cancelled: run.cancelRequested,
      forced: false,
      faulted: options.faulted ?? false,
      failFast: run.failFast,
      failed: facts.failed,
      failedKeys: facts.failedKeys,
    };
    const ready = readyDecisions(jobs, view, (id) => queued.has(id));
    if (ready.length === 0) break;
    let skipped = false;
    for (const { job, decision } of ready) {
      if (decision.run) {
        const max = Math.max(options.maxAttempts, job.retry.attempts);
        await tx.run(
          `INSERT INTO queue_entries (run_id, job_id, state, payload, labels, run_after, attempt, max_attempts, created_at, updated_at)
           VALUES (?, ?, 'available', ?, ?, ?, 0, ?, ?, ?)`,
          [runId, job.id, encodePayload(decision.afterCancel), JSON.stringify(job.labels), options.now, max, options.now, options.now],
        );
        queued.add(job.id);
        enqueued++;
      } else {
        statuses.set(job.id, "skipped");
        skipped = true;
        events.push(
          await finishJobRow(
            tx,
            runId,
            job.id,
            { status: "skipped", attempts: 0, outputs: {}, durationMs: 0, reason: decision.reason },
            options.now,
          ),
        );
      }
    }
    if (!skipped) break;
  }
  let finished: RunStatus | undefined;
  if (jobs.every((j) => isFinalStatus(statuses.get(j.id)))) {
    const rows = await tx.all(`SELECT status, started_at FROM runs WHERE id = ?`, [runId]);
    if (rows[0] && String(rows[0].status) === "running") {
      finished = finalRunStatus(jobs, (id) => statuses.get(id), { cancelled: run.cancelRequested, faulted: options.faulted ?? false });
      const durationMs = Math.max(0, options.now - Number(rows[0].started_at));
      await tx.run(`UPDATE runs SET status = ?, finished_at = ?, duration_ms = ? WHERE id = ?`, [finished, options.now, durationMs, runId]);
      events.push({ type: "run.finished", runId, ts: options.now, status: finished, durationMs });
    }
  }
  await appendRunEvents(tx, runId, events);
  return finished ? { queued: enqueued, finished } : { queued: enqueued };
}
