/**
 * Graphviz `digraph` of a plan's job graph; edges are labelled with the
 * artifacts they carry.
 */
import type { Plan } from "../../core/plan-types.js";
import { artifactsBetween, jobLabel } from "./layers.js";

/** A double-quoted DOT string. */
export function dotString(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\r?\n/g, "\\n")}"`;
}

export function renderDot(plan: Plan): string {
  const lines = [`digraph ${dotString(plan.workflow.name)} {`, "  rankdir=LR;", '  node [shape=box, fontname="sans-serif"];'];
  for (const job of plan.jobs) {
    const style = job.if.kind === "status" && job.if.status === "success" ? "" : ", style=dashed";
    lines.push(`  ${dotString(job.id)} [label=${dotString(jobLabel(job))}${style}];`);
  }
  for (const job of plan.jobs) {
    for (const need of job.needs) {
      const from = plan.jobs.find((j) => j.id === need);
      if (!from) continue;
      const artifacts = artifactsBetween(from, job);
      const label = artifacts.length > 0 ? ` [label=${dotString(artifacts.join(", "))}]` : "";
      lines.push(`  ${dotString(need)} -> ${dotString(job.id)}${label};`);
    }
  }
  lines.push("}");
  return `${lines.join("\n")}\n`;
}
