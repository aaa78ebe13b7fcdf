/**
 * The rows of a new server run, inside the submit transaction: the plan, the
 * run, its jobs and steps (queued), reused jobs (final, from an earlier run),
 * the server state and `run.started` (seq 1). The first decisions follow in
 * the same transaction (`advanceRun`).
 */
import type { GantryEvent } from "../../core/events.js";
import type { SqlRunner } from "../sql-driver.js";
import { appendRunEvents, finishJobRow, type ApplyOp } from "./sql-advance.js";
import type { NewServerRun } from "./types.js";

/** False when a run with this id exists already (nothing written). */
export async function submitRun(tx: SqlRunner, run: NewServerRun, applyOp: ApplyOp): Promise<boolean> {
  const exists = await tx.all(`SELECT id FROM runs WHERE id = ?`, [run.id]);
  if (exists.length > 0) return false;
  const now = run.startedAt ?? Date.now();
  const { plan } = run;
  await applyOp(tx, { op: "plan", plan });
  await applyOp(tx, {
    op: "run",
    run: {
      id: run.id,
      workflow: plan.workflow.name,
      file: plan.workflow.file,
      trigger: run.trigger,
      planHash: plan.hash,
      startedAt: now,
      owner: null,
      parentRunId: run.parentRunId ?? null,
    },
  });
  await tx.run(
    `INSERT INTO run_state (run_id, repo, request, fail_fast, cancel_requested, event_seq, created_at) VALUES (?, ?, ?, ?, 0, 0, ?)`,
    [run.id, run.spec.repo, JSON.stringify(run.spec), run.failFast ? 1 : 0, now],
  );
  const reused = run.reused ?? {};
  const selected = new Set(run.jobIds ?? plan.jobs.map((j) => j.id));
  const jobIds: string[] = [];
  const events: GantryEvent[] = [];
  const finals: Array<[string, (typeof reused)[string]]> = [];
  for (const [position, job] of plan.jobs.entries()) {
    const done = reused[job.id];
    if (!done && !selected.has(job.id)) continue;
    const { id: jobId, key, name, matrix, needs, executor, hash: jobHash } = job;
    await applyOp(tx, {
      op: "job",
      job: { runId: run.id, jobId, key, name, matrix, needs: [...needs], executor, jobHash, position, status: "queued", attempts: 0 },
    });
    if (done) {
      finals.push([jobId, done]);
      continue;
    }
    jobIds.push(jobId);
    for (const step of job.steps) {
      await applyOp(tx, {
        op: "step",
        step: { runId: run.id, jobId, stepIndex: step.index, name: step.name, status: "queued", attempts: 0 },
      });
    }
  }
  events.push({
    type: "run.started",
    runId: run.id,
    ts: now,
    plan,
    jobIds,
    ...(finals.length > 0 ? { reused: finals.map(([id]) => id) } : {}),
  });
  for (const [jobId, done] of finals) {
    events.push(
      await finishJobRow(
        tx,
        run.id,
        jobId,
        { status: done.status, attempts: 0, outputs: done.outputs, durationMs: 0, reason: "reused from an earlier run" },
        now,
      ),
    );
  }
  await appendRunEvents(tx, run.id, events);
  return true;
}
