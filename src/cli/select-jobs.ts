/**
 * `-j/--job` selection: which jobs of a plan a run (or dry run) includes.
 */
import type { Plan, PlanJob } from "../core/plan-types.js";
import { GantryError } from "../core/errors.js";
import { suggest } from "../core/suggest.js";

/**
 * The jobs selected by `selectors` (job ids, or keys that select every matrix
 * expansion), plus everything they need unless `only`. No selectors selects
 * every job. Returns jobs in plan order. An unknown selector is a usage error.
 */
export function selectJobs(plan: Pick<Plan, "jobs">, selectors: readonly string[], only = false): PlanJob[] {
  if (selectors.length === 0) return [...plan.jobs];
  const chosen = new Set<string>();
  for (const selector of selectors) {
    const matches = plan.jobs.filter((j) => j.id === selector || j.key === selector);
    if (matches.length === 0) {
      const hint = suggest(selector, [...new Set(plan.jobs.flatMap((j) => [j.key, j.id]))]);
      throw new GantryError(
        "USAGE",
        `no job "${selector}"${hint ? ` (did you mean "${hint}"?)` : ""}; jobs: ${[...new Set(plan.jobs.map((j) => j.key))].join(", ")}`,
      );
    }
    for (const m of matches) chosen.add(m.id);
  }
  if (!only) {
    const byId = new Map(plan.jobs.map((j) => [j.id, j]));
    const queue = [...chosen];
    for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
      for (const need of byId.get(id)?.needs ?? []) {
        if (!chosen.has(need)) {
          chosen.add(need);
          queue.push(need);
        }
      }
    }
  }
  return plan.jobs.filter((j) => chosen.has(j.id));
}
