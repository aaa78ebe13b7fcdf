/**
 * Longest-path layering of a plan's jobs: a job's level is one more than the
 * highest level of the jobs it needs (jobs without needs are level 0).
 * Pure; shared by the graph renderers.
 */
import type { Plan, PlanJob } from "../../core/plan-types.js";

export interface Layered {
  /** Jobs per level, each level in plan order. */
  readonly levels: ReadonlyArray<readonly PlanJob[]>;
  readonly levelOf: ReadonlyMap<string, number>;
}

export function layerJobs(plan: Pick<Plan, "jobs">): Layered {
  const levelOf = new Map<string, number>();
  const byId = new Map(plan.jobs.map((j) => [j.id, j]));
  const visit = (job: PlanJob, stack: Set<string>): number => {
    const known = levelOf.get(job.id);
    if (known !== undefined) return known;
    if (stack.has(job.id)) throw new Error(`cycle through job "${job.id}"`);
    stack.add(job.id);
    let level = 0;
    for (const need of job.needs) {
      const dep = byId.get(need);
      if (dep) level = Math.max(level, visit(dep, stack) + 1);
    }
    stack.delete(job.id);
    levelOf.set(job.id, level);
    return level;
  };
  for (const job of plan.jobs) visit(job, new Set());
  const levels: PlanJob[][] = [];
  for (const job of plan.jobs) {
    const level = levelOf.get(job.id) ?? 0;
    (levels[level] ??= []).push(job);
  }
  return { levels: levels.map((l) => l ?? []), levelOf };
}

/** Artifact names that flow from job `from` into job `to`. */
export function artifactsBetween(from: PlanJob, to: PlanJob): string[] {
  return to.inputs.artifacts.filter((a) => a.from.includes(from.id)).map((a) => a.name);
}

interface PlanIndex {
  readonly byId: ReadonlyMap<string, PlanJob>;
  readonly byKey: ReadonlyMap<string, readonly PlanJob[]>;
}

/** Per plan, built once: renderers describe every job's needs, and a plan may have 10,000 jobs. */
const indexes = new WeakMap<object, PlanIndex>();

function indexOf(plan: Pick<Plan, "jobs">): PlanIndex {
  const cached = indexes.get(plan.jobs);
  if (cached) return cached;
  const byId = new Map<string, PlanJob>();
  const byKey = new Map<string, PlanJob[]>();
  for (const j of plan.jobs) {
    byId.set(j.id, j);
    const list = byKey.get(j.key);
    if (list) list.push(j);
    else byKey.set(j.key, [j]);
  }
  const index = { byId, byKey };
  indexes.set(plan.jobs, index);
  return index;
}

/**
 * A short text for a job's needs: needs that cover every expansion of a
 * matrix job are folded into `key (all N)`.
 */
export function describeNeeds(plan: Pick<Plan, "jobs">, job: PlanJob): string[] {
  const { byId, byKey } = indexOf(plan);
  const needs = new Set(job.needs);
  const out: string[] = [];
  const done = new Set<string>();
  for (const need of job.needs) {
    if (done.has(need)) continue;
    const dep = byId.get(need);
    const siblings = dep ? (byKey.get(dep.key) ?? []) : [];
    if (dep && siblings.length > 1 && siblings.every((s) => needs.has(s.id))) {
      out.push(`${dep.key} (all ${siblings.length})`);
      for (const s of siblings) done.add(s.id);
    } else {
      out.push(need);
      done.add(need);
    }
  }
  return out;
}

/** How a job is shown in graphs: its id, plus its display name when that says something else. */
export function jobLabel(job: Pick<PlanJob, "id" | "key" | "name">): string {
  return job.name === job.key || job.name === job.id ? job.id : `${job.id} · ${job.name}`;
}
