/**
 * The store-backed `WorkSource` (embedded workers): every call is a store
 * call under the fencing rules of `store.queue`; `claim` waits with the
 * queue's in-process wake-ups plus polling (another process's commits are seen
 * at the next poll).
 */
import type { Plan } from "../core/plan-types.js";
import type { Store } from "../store/store.js";
import type { NeedResult, WorkItem, WorkSource } from "./worker.js";

export interface StoreSourceOptions {
  /** Lease granted per claim and per heartbeat (default 30 s). */
  readonly leaseMs?: number;
  /** How often `claim` polls while it waits (default 250 ms). */
  readonly pollMs?: number;
}

export function createStoreSource(store: Store, options: StoreSourceOptions = {}): WorkSource {
  const leaseMs = options.leaseMs ?? 30_000;
  const pollMs = options.pollMs ?? 250;
  const plans = new Map<string, Plan>();

  async function planOf(hash: string): Promise<Plan> {
    let plan = plans.get(hash);
    if (!plan) {
      plan = await store.plans.get(hash);
      if (!plan) throw new Error(`the plan ${hash.slice(0, 12)} is not in the store`);
      if (plans.size > 100) plans.clear();
      plans.set(hash, plan);
    }
    return plan;
  }

  async function needsOf(plan: Plan, runId: string, jobId: string): Promise<Record<string, NeedResult>> {
    const byId = new Map(plan.jobs.map((j) => [j.id, j]));
    const wanted = new Set<string>();
    const stack = [...(byId.get(jobId)?.needs ?? [])];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (wanted.has(id)) continue;
      wanted.add(id);
      stack.push(...(byId.get(id)?.needs ?? []));
    }
    if (wanted.size === 0) return {};
    const out: Record<string, NeedResult> = {};
    const artifacts = await store.artifacts.list(runId);
    for (const job of await store.jobs.list(runId)) {
      if (!wanted.has(job.jobId)) continue;
      const mine: Record<string, { hash: string; size: number }> = {};
      for (const a of artifacts) if (a.jobId === job.jobId) mine[a.name] = { hash: a.hash, size: a.size };
      out[job.jobId] = { status: job.status, outputs: job.outputs, artifacts: mine };
    }
    return out;
  }

  async function claimOnce(workerId: string, max: number): Promise<WorkItem[]> {
    const claimed = await store.queue.claim({ workerId, max, leaseMs });
    const items: WorkItem[] = [];
    for (const c of claimed) {
      const plan = await planOf(c.planHash);
      items.push({
        lease: c.lease,
        leaseExpiresAt: c.leaseExpiresAt,
        plan,
        spec: c.spec,
        cancelRequested: c.cancelRequested,
        needs: await needsOf(plan, c.lease.runId, c.lease.jobId),
      });
    }
    return items;
  }

  return {
    leaseMs,
    async claim({ workerId, max, waitMs = 0, signal }) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const items = await claimOnce(workerId, max);
        if (items.length > 0 || Date.now() >= deadline || signal?.aborted) return items;
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            off();
            signal?.removeEventListener("abort", done);
            resolve();
          };
          const timer = setTimeout(done, Math.min(pollMs, Math.max(1, deadline - Date.now())));
          const off = store.queue.onChange((change) => {
            if (change.kind === "available") done();
          });
          signal?.addEventListener("abort", done, { once: true });
        });
      }
    },
    heartbeat: async (lease) => ({ cancelRequested: (await store.queue.heartbeat(lease, leaseMs)).cancelRequested }),
    append: async (lease, events) => {
      if (events.length > 0) await store.queue.append(lease, events);
    },
    putBlob: (_lease, hash, path) => store.artifacts.putBlob(hash, path),
    getBlob: (hash, destPath) => store.artifacts.blobs.copyTo(hash, destPath, `blob ${hash.slice(0, 12)}`),
    bundle: (hash) => store.plans.getBundle(hash),
    finish: (lease, result) => store.queue.finish(lease, result),
  };
}
