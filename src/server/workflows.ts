/**
 * Workflows of a pinned commit: loaded from the commit's unpacked tree and
 * compiled with the executor kinds Gantry ships. A workflow is chosen by
 * name or file stem among `.gantry/*.ts`, or by an explicit file.
 */
import { basename } from "node:path";
import { GantryError } from "../core/errors.js";
import { compileWorkflow } from "../core/plan.js";
import type { Plan } from "../core/plan-types.js";
import { builtinExecutorKinds } from "../executors/builtin.js";
import { discoverWorkflows, loadWorkflowFile, type LoadedWorkflow } from "../loader/load.js";

export interface TreeWorkflow {
  readonly loaded: LoadedWorkflow;
  readonly plan: Plan;
}

const stem = (file: string): string => basename(file).replace(/\.(m|c)?tsx?$/, "");

/** `inputs`: the run's typed inputs, validated by the workflow's schema (a `PlanError` naming the input when one is wrong). */
export async function compileTreeFile(
  treeDir: string,
  stateDir: string,
  file: string,
  inputs?: Readonly<Record<string, unknown>>,
): Promise<TreeWorkflow> {
  const loaded = await loadWorkflowFile(file, { repoDir: treeDir, stateDir });
  const plan = compileWorkflow(loaded.workflow, {
    file: loaded.file,
    bundle: loaded.bundleHash,
    executors: builtinExecutorKinds,
    ...(inputs ? { inputs } : {}),
  });
  return { loaded, plan };
}

/** Every `.gantry/*.ts` of the tree, compiled. */
export async function treeWorkflows(treeDir: string, stateDir: string): Promise<TreeWorkflow[]> {
  const out: TreeWorkflow[] = [];
  for (const file of await discoverWorkflows(treeDir)) out.push(await compileTreeFile(treeDir, stateDir, file));
  return out;
}

/** The workflow `name` (a name or a file stem) of the tree, or the one in `file`, compiled for a run with `inputs`. */
export async function selectTreeWorkflow(
  treeDir: string,
  stateDir: string,
  name: string,
  file?: string,
  inputs?: Readonly<Record<string, unknown>>,
): Promise<TreeWorkflow> {
  if (file !== undefined) {
    if (file.startsWith("/") || file.split("/").includes(".."))
      throw new GantryError("USAGE", `file "${file}" must be a relative path inside the repository`);
    const compiled = await compileTreeFile(treeDir, stateDir, file, inputs);
    if (compiled.plan.workflow.name !== name && stem(compiled.loaded.file) !== name)
      throw new GantryError("USAGE", `${compiled.loaded.file} defines workflow "${compiled.plan.workflow.name}", not "${name}"`);
    return compiled;
  }
  const files = await discoverWorkflows(treeDir);
  const byStem = files.filter((f) => stem(f) === name);
  if (byStem.length === 1) return compileTreeFile(treeDir, stateDir, byStem[0] as string, inputs);
  for (const f of files) {
    const loaded = await loadWorkflowFile(f, { repoDir: treeDir, stateDir }).catch(() => undefined);
    if (loaded?.workflow.name === name) return compileTreeFile(treeDir, stateDir, f, inputs);
  }
  throw new GantryError(
    "USAGE",
    `no workflow named "${name}" in .gantry/*.ts (files: ${files.join(", ") || "none"}); pass "file" for a workflow elsewhere`,
  );
}
