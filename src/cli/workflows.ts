/**
 * Finding, loading and compiling the workflows a command works on.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, relative, resolve } from "node:path";
import { parse as parseDotenv } from "dotenv";
import type { Workflow } from "../core/definition.js";
import { compileWorkflow } from "../core/plan.js";
import type { Plan } from "../core/plan-types.js";
import { GantryError } from "../core/errors.js";
import { checkRepoDir } from "./environment.js";
import { builtinExecutorKinds } from "../executors/builtin.js";
import { toPosix } from "../loader/bundle.js";
import { discoverWorkflows, loadWorkflowFile, type LoadedWorkflow } from "../loader/load.js";

/** Options every workflow command accepts. */
export interface TargetOptions {
  /** Repository directory (`-C`), default the current directory. */
  readonly dir?: string;
  /** Workflow file (`-f`), relative to the repository directory. */
  readonly file?: string;
}

export interface CompiledWorkflow {
  readonly loaded: LoadedWorkflow;
  readonly plan: Plan;
}

/** The repository directory: `--dir` (which must exist) or the current directory. */
export function repoDirOf(options: TargetOptions): string {
  const dir = resolve(process.cwd(), options.dir ?? ".");
  return options.dir === undefined ? dir : checkRepoDir(dir, options.dir);
}

/** The file stem of a workflow file: `.gantry/ci.ts` -> `ci`. */
export function stemOf(file: string): string {
  return basename(file).replace(/\.(m|c)?tsx?$/, "");
}

/** The workflow files a command applies to: `-f FILE`, or every `.gantry/*.ts`. */
export async function workflowFiles(repoDir: string, file?: string): Promise<string[]> {
  if (file) return [toPosix(relative(repoDir, resolve(repoDir, file)))];
  const files = await discoverWorkflows(repoDir);
  if (files.length === 0) {
    throw new GantryError("USAGE", `no workflows in ${toPosix(resolve(repoDir, ".gantry"))}/*.ts; run \`gantry init\` or pass -f FILE`);
  }
  return files;
}

/**
 * Load and compile one workflow file; `env.required` names are checked
 * against `knownEnv`; `inputs` (for a run) are validated by the workflow's
 * inputs schema and stored in the plan.
 */
export async function compileFile(
  repoDir: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  inputs?: Readonly<Record<string, unknown>>,
): Promise<CompiledWorkflow> {
  const loaded = await loadWorkflowFile(file, { repoDir });
  const known = knownEnv(loaded.workflow, repoDir, env);
  const plan = compileWorkflow(loaded.workflow, {
    file: loaded.file,
    bundle: loaded.bundleHash,
    executors: builtinExecutorKinds,
    ...(known ? { env: known } : {}),
    ...(inputs ? { inputs } : {}),
  });
  return { loaded, plan };
}

/**
 * The environment that can be known without decrypting anything: `base`
 * plus the names of the workflow's `env.file` dotenv files. Undefined (skip
 * the `required` check at compile time) when the workflow reads a sops file:
 * its names are only known after decryption, which `gantry run` does.
 */
export function knownEnv(workflow: Workflow, repoDir: string, base: NodeJS.ProcessEnv): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
  const providers: unknown = workflow.env;
  if (!Array.isArray(providers)) return out;
  for (const provider of providers as unknown[]) {
    const p = provider as { kind?: unknown; path?: unknown };
    if (p.kind === "sops") return undefined;
    if (p.kind === "file" && typeof p.path === "string") {
      const path = resolve(repoDir, p.path);
      if (existsSync(path)) {
        try {
          Object.assign(out, parseDotenv(readFileSync(path, "utf8")));
        } catch {
          // unreadable: `gantry run` reports it
        }
      }
    }
  }
  return out;
}

/**
 * The one workflow a command works on: `-f FILE`; else `WORKFLOW`, a workflow
 * name or file stem among `.gantry/*.ts`; else the only workflow there.
 * Several candidates without a choice is a usage error listing them.
 */
export async function selectWorkflow(
  options: TargetOptions & { workflow?: string; env?: NodeJS.ProcessEnv; inputs?: Readonly<Record<string, unknown>> },
): Promise<CompiledWorkflow> {
  const repoDir = repoDirOf(options);
  const env = options.env ?? process.env;
  // `gantry run .gantry/ci.ts`: a path where a name goes is taken as `-f`.
  const path = options.file === undefined && options.workflow !== undefined ? workflowPath(repoDir, options.workflow) : undefined;
  if (path !== undefined) return selectWorkflow({ ...options, file: path, workflow: undefined });
  const files = await workflowFiles(repoDir, options.file);
  if (options.file) {
    const compiled = await compileFile(repoDir, files[0] as string, env, options.inputs);
    if (options.workflow && options.workflow !== compiled.plan.workflow.name && options.workflow !== stemOf(compiled.loaded.file)) {
      throw new GantryError(
        "USAGE",
        `${compiled.loaded.file} defines workflow "${compiled.plan.workflow.name}", not "${options.workflow}"`,
      );
    }
    return compiled;
  }
  if (!options.workflow) {
    if (files.length === 1) return compileFile(repoDir, files[0] as string, env, options.inputs);
    const names = await describeFiles(repoDir, files);
    throw new GantryError("USAGE", `several workflows found; name one of: ${names.join(", ")}`);
  }
  const byStem = files.filter((f) => stemOf(f) === options.workflow);
  if (byStem.length === 1) return compileFile(repoDir, byStem[0] as string, env, options.inputs);
  const matches: string[] = [];
  for (const file of files) {
    const loaded = await loadWorkflowFile(file, { repoDir }).catch(() => undefined);
    if (loaded?.workflow.name === options.workflow) matches.push(file);
  }
  if (matches.length === 1) return compileFile(repoDir, matches[0] as string, env, options.inputs);
  const names = await describeFiles(repoDir, files);
  if (matches.length > 1)
    throw new GantryError("USAGE", `several files define workflow "${options.workflow}": ${matches.join(", ")}; use -f FILE`);
  if (looksLikePath(options.workflow)) {
    throw new GantryError(
      "USAGE",
      `no workflow file ${JSON.stringify(options.workflow)} (looked in ${toPosix(repoDir)}); name a workflow (${names.join(", ")}) or pass an existing file with -f FILE`,
    );
  }
  throw new GantryError("USAGE", `no workflow named "${options.workflow}"; known: ${names.join(", ")}`);
}

/** A workflow argument written as a file path (`.gantry/ci.ts`, `./ci.ts`), not a name. */
function looksLikePath(arg: string): boolean {
  return arg.includes("/") || arg.includes("\\") || /\.(m|c)?[tj]sx?$/.test(arg);
}

/**
 * The workflow file a path-like argument names, relative to the repository:
 * the path relative to the repository directory, else to the current
 * directory (what a shell completes). `undefined` when it is not a path or no such file exists.
 */
function workflowPath(repoDir: string, arg: string): string | undefined {
  if (!looksLikePath(arg)) return undefined;
  for (const candidate of [resolve(repoDir, arg), resolve(process.cwd(), arg)]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return toPosix(relative(repoDir, candidate));
  }
  return undefined;
}

/** `name (file)` for each file, or just the file when it does not load. */
async function describeFiles(repoDir: string, files: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const file of files) {
    const loaded = await loadWorkflowFile(file, { repoDir }).catch(() => undefined);
    out.push(loaded ? `${loaded.workflow.name} (${file})` : file);
  }
  return out;
}
