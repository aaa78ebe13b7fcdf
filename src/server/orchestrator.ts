/**
 * The orchestrator behind the API (`src/queue/api.ts`): every call is one
 * store transaction (`store.queue`, see `src/store/queue/types.ts`) together
 * with its audit row. It keeps no state of its own, so any number of server
 * processes can run one each over the same database.
 */
import { randomBytes } from "node:crypto";
import { GantryError } from "../core/errors.js";
import type { AuditEntry, Orchestrator, QueueSummary, RunRequest } from "../queue/api.js";
import { selectRerun } from "../store/history.js";
import type { JobStatus } from "../core/context.js";
import type { RunSpec } from "../store/queue/types.js";
import type { Store } from "../store/store.js";

export interface OrchestratorOptions {
  /** Max attempts of a job's queue entry when its worker is lost (default 3; a job's `retry.attempts` wins when higher). */
  readonly maxAttempts?: number;
  readonly now?: () => number;
}

/** `20261202-031502-1a2b3c4d5e6f`: sortable by time, unique across servers. */
export function newServerRunId(date = new Date()): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}-${randomBytes(6).toString("hex")}`;
}

export function createOrchestrator(store: Store, options: OrchestratorOptions = {}): Orchestrator {
  const now = options.now ?? Date.now;
  const auditOf = (a: AuditEntry | undefined) => (a ? { ...a, at: now() } : undefined);

  async function submit(
    req: RunRequest,
    audit?: AuditEntry,
    extra: {
      parentRunId?: string;
      reused?: Record<string, { status: JobStatus; outputs: Record<string, string> }>;
      jobIds?: string[];
      trigger?: string;
    } = {},
  ) {
    const runId = req.runId ?? newServerRunId(new Date(now()));
    const spec: RunSpec = {
      repo: req.repo,
      bundleHash: req.bundleHash,
      ...(req.snapshot !== undefined ? { snapshot: req.snapshot } : {}),
      ...(req.commit !== undefined ? { commit: req.commit } : {}),
      ...(req.ref !== undefined ? { ref: req.ref } : {}),
      trigger: req.trigger,
      ...(req.inputs !== undefined ? { inputs: req.inputs } : {}),
      ...(req.env !== undefined ? { env: req.env } : {}),
    };
    await store.queue.submit(
      {
        id: runId,
        plan: req.plan,
        spec,
        failFast: req.failFast ?? req.plan.workflow.failFast === true,
        trigger: extra.trigger ?? req.trigger.kind,
        parentRunId: extra.parentRunId ?? null,
        ...(extra.jobIds ? { jobIds: extra.jobIds } : {}),
        ...(extra.reused ? { reused: extra.reused } : {}),
        ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
        startedAt: now(),
      },
      auditOf(audit),
    );
    return { runId };
  }

  return {
    submit: (req, audit) => submit(req, audit),

    async cancel(runId, audit) {
      const state = await store.queue.state(runId);
      if (!state) throw new GantryError("NOT_FOUND", `no run ${runId} on this server`);
      await store.queue.cancel(runId, auditOf(audit), now());
    },

    async rerun(runId, opts, audit) {
      const state = await store.queue.state(runId);
      const run = await store.runs.get(runId);
      if (!state || !run?.planHash) throw new GantryError("NOT_FOUND", `no run ${runId} on this server`);
      if (state.status === "running") throw new GantryError("USAGE", `run ${runId} is still running; cancel it or wait for it to finish`);
      const plan = await store.plans.get(run.planHash);
      if (!plan) throw new GantryError("NOT_FOUND", `the plan of run ${runId} is not in the store`);
      const jobs = await store.jobs.list(runId);
      const { rerun, reuse } = selectRerun(plan, jobs, { failedOnly: opts.failed });
      if (rerun.length === 0) throw new GantryError("USAGE", `run ${runId} has no failed job to run again`);
      const reused: Record<string, { status: JobStatus; outputs: Record<string, string> }> = {};
      for (const id of reuse) {
        const job = jobs.find((j) => j.jobId === id);
        if (job) reused[id] = { status: job.status, outputs: { ...job.outputs } };
      }
      const spec = state.spec;
      return submit(
        {
          repo: spec.repo,
          workflow: plan.workflow.name,
          file: plan.workflow.file,
          plan,
          bundleHash: spec.bundleHash,
          ...(spec.snapshot !== undefined ? { snapshot: spec.snapshot } : {}),
          ...(spec.commit !== undefined ? { commit: spec.commit } : {}),
          ...(spec.ref !== undefined ? { ref: spec.ref } : {}),
          trigger: { kind: "rerun", ...(spec.trigger.by !== undefined ? { by: spec.trigger.by } : {}) },
          ...(spec.inputs !== undefined ? { inputs: spec.inputs } : {}),
          ...(spec.env !== undefined ? { env: spec.env } : {}),
          failFast: state.failFast,
        },
        audit,
        { parentRunId: runId, reused, jobIds: rerun, trigger: "rerun" },
      );
    },

    async queue(): Promise<QueueSummary> {
      const { counts, quarantined } = await store.queue.summary();
      return {
        counts,
        quarantined: quarantined.map((e) => ({ entry: e.entry, runId: e.runId, jobId: e.jobId, reason: e.reason ?? "", at: e.updatedAt })),
      };
    },

    async requeue(entry, audit) {
      await store.queue.requeue(entry, auditOf(audit), now());
    },
  };
}
