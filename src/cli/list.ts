/**
 * `gantry list`: the workflows of a repository, their triggers and jobs.
 */
import type { Triggers } from "../core/definition.js";
import { GantryError } from "../core/errors.js";
import type { Plan } from "../core/plan-types.js";
import { describeNeeds } from "./graph/layers.js";
import type { CliIo } from "./io.js";
import { compileFile, repoDirOf, workflowFiles, type TargetOptions } from "./workflows.js";

/** The JSON shape of one workflow in `gantry list --json`. */
export interface ListedWorkflow {
  readonly name: string;
  readonly file: string;
  readonly triggers: Triggers;
  readonly plan: string;
  readonly bundle: string;
  readonly jobs: ReadonlyArray<{ readonly id: string; readonly key: string; readonly needs: readonly string[]; readonly executor: string }>;
}

export function describeTriggers(triggers: Triggers): string[] {
  const out: string[] = [];
  if (triggers.push) {
    const parts = [
      triggers.push.branches?.length ? `branches ${triggers.push.branches.join(", ")}` : "",
      triggers.push.tags?.length ? `tags ${triggers.push.tags.join(", ")}` : "",
      triggers.push.paths?.length ? `paths ${triggers.push.paths.join(", ")}` : "",
    ].filter(Boolean);
    out.push(parts.length > 0 ? `push (${parts.join("; ")})` : "push");
  }
  const crons = triggers.cron === undefined ? [] : typeof triggers.cron === "string" ? [triggers.cron] : triggers.cron;
  for (const cron of crons) out.push(`cron "${cron}"`);
  if (triggers.manual) out.push("manual");
  return out;
}

export function toListed(plan: Plan): ListedWorkflow {
  return {
    name: plan.workflow.name,
    file: plan.workflow.file,
    triggers: plan.workflow.triggers,
    plan: plan.hash,
    bundle: plan.bundle,
    jobs: plan.jobs.map((j) => ({ id: j.id, key: j.key, needs: j.needs, executor: j.executor })),
  };
}

export function renderList(plans: readonly Plan[]): string {
  const lines: string[] = [];
  for (const plan of plans) {
    if (lines.length > 0) lines.push("");
    const triggers = describeTriggers(plan.workflow.triggers);
    lines.push(`${plan.workflow.name}  ${plan.workflow.file}`);
    lines.push(`  triggers: ${triggers.length > 0 ? triggers.join(", ") : "none (run by hand)"}`);
    lines.push(`  jobs (${plan.jobs.length}):`);
    const width = Math.max(...plan.jobs.map((j) => j.id.length));
    for (const job of plan.jobs) {
      const needs = describeNeeds(plan, job);
      lines.push(needs.length > 0 ? `    ${job.id.padEnd(width)}  needs ${needs.join(", ")}` : `    ${job.id}`);
    }
  }
  return lines.join("\n");
}

/** `gantry list [--json]`: every workflow (or `-f`); invalid files are reported on stderr, exit 2. */
export async function listCommand(options: TargetOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const repoDir = repoDirOf(options);
  const plans: Plan[] = [];
  let failed = 0;
  for (const file of await workflowFiles(repoDir, options.file)) {
    try {
      plans.push((await compileFile(repoDir, file)).plan);
    } catch (error) {
      if (!(error instanceof GantryError)) throw error;
      failed++;
      io.err(error.message);
    }
  }
  if (options.json) io.out(JSON.stringify(plans.map(toListed), null, 2));
  else if (plans.length > 0) io.out(renderList(plans));
  return failed > 0 ? 2 : 0;
}
