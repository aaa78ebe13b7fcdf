/**
 * `gantry build`: compile one workflow and write its plan (`plan.json`) and
 * its portable bundle (`<hash>.mjs`, whose SHA-256 is the hash) to a folder.
 */
import { mkdir } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { toPosix, writeFileAtomic } from "../loader/bundle.js";
import type { CliIo } from "./io.js";
import { repoDirOf, selectWorkflow, stemOf, type TargetOptions } from "./workflows.js";

export async function buildCommand(options: TargetOptions & { workflow?: string; out?: string }, io: CliIo): Promise<number> {
  const repoDir = repoDirOf(options);
  const { loaded, plan } = await selectWorkflow(options);
  const outDir = options.out ? resolve(process.cwd(), options.out) : join(repoDir, ".gantry", "state", "build", stemOf(loaded.file));
  await mkdir(outDir, { recursive: true });
  const planPath = join(outDir, "plan.json");
  const bundlePath = join(outDir, `${plan.bundle}.mjs`);
  await writeFileAtomic(planPath, `${JSON.stringify(plan, null, 2)}\n`);
  await writeFileAtomic(bundlePath, loaded.source);
  const shown = (p: string): string => toPosix(relative(process.cwd(), p)) || ".";
  const n = plan.jobs.length;
  io.out(
    `built workflow ${plan.workflow.name} (${loaded.file}): ${n} job${n === 1 ? "" : "s"}, plan ${plan.hash.slice(0, 12)}, bundle ${plan.bundle.slice(0, 12)}`,
  );
  io.out(`  ${shown(planPath)}`);
  io.out(`  ${shown(bundlePath)}`);
  return 0;
}
