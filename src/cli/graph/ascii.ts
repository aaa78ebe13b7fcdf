/**
 * Terminal rendering of a plan's job graph: jobs grouped by level (longest
 * path from a root), each followed by its outgoing edges, labelled with the
 * artifacts they carry.
 *
 *     level 1
 *       a
 *       ├─▶ b  (dist)
 *       └─▶ c  (dist)
 */
import type { Plan, PlanCondition, PlanJob } from "../../core/plan-types.js";
import { artifactsBetween, jobLabel, layerJobs } from "./layers.js";

export function conditionLabel(condition: PlanCondition): string {
  switch (condition.kind) {
    case "status":
      return `${condition.status}()`;
    case "sh":
      return `sh \`${condition.run}\``;
    case "fn":
      return "predicate";
  }
}

export function renderAscii(plan: Plan): string {
  const { levels } = layerJobs(plan);
  const count = plan.jobs.length;
  const lines = [
    `${plan.workflow.name} (${plan.workflow.file}): ${count} job${count === 1 ? "" : "s"} in ${levels.length} level${levels.length === 1 ? "" : "s"}`,
  ];
  const dependents = new Map<string, PlanJob[]>();
  for (const job of plan.jobs) {
    for (const need of job.needs) {
      const list = dependents.get(need) ?? [];
      list.push(job);
      dependents.set(need, list);
    }
  }
  levels.forEach((jobs, index) => {
    lines.push("", `level ${index + 1}`);
    for (const job of jobs) {
      const condition = job.if.kind === "status" && job.if.status === "success" ? "" : `  if ${conditionLabel(job.if)}`;
      lines.push(`  ${jobLabel(job)}${condition}`);
      const out = dependents.get(job.id) ?? [];
      out.forEach((next, i) => {
        const branch = i === out.length - 1 ? "└─▶" : "├─▶";
        const artifacts = artifactsBetween(job, next);
        lines.push(`  ${branch} ${next.id}${artifacts.length > 0 ? `  (${artifacts.join(", ")})` : ""}`);
      });
    }
  });
  return `${lines.join("\n")}\n`;
}
