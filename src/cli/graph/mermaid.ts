/**
 * Mermaid `flowchart TD` of a plan's job graph. Node ids are generated
 * (`j0`, `j1`, ...) so no job name can clash with Mermaid keywords such as
 * `end`; labels are quoted, with `"` and `#` written as entity codes.
 */
import type { Plan } from "../../core/plan-types.js";
import { conditionLabel } from "./ascii.js";
import { artifactsBetween, jobLabel } from "./layers.js";

/** Text safe inside a quoted Mermaid label. */
export function mermaidText(text: string): string {
  return text
    .replace(/#/g, "#35;")
    .replace(/"/g, "#quot;")
    .replace(/[\r\n]+/g, " ");
}

export function renderMermaid(plan: Plan): string {
  const ids = new Map(plan.jobs.map((job, i) => [job.id, `j${i}`]));
  const lines = ["flowchart TD", `  %% workflow ${mermaidText(plan.workflow.name).replace(/%/g, "")}`];
  for (const job of plan.jobs) {
    const condition = job.if.kind === "status" && job.if.status === "success" ? "" : ` [if ${conditionLabel(job.if)}]`;
    lines.push(`  ${ids.get(job.id)}["${mermaidText(jobLabel(job) + condition)}"]`);
  }
  for (const job of plan.jobs) {
    for (const need of job.needs) {
      const from = plan.jobs.find((j) => j.id === need);
      if (!from) continue;
      const artifacts = artifactsBetween(from, job);
      const label = artifacts.length > 0 ? `|"${mermaidText(artifacts.join(", "))}"|` : "";
      lines.push(`  ${ids.get(need)} -->${label} ${ids.get(job.id)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
