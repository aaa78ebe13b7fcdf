/**
 * `gantry run --dry-run`: what a run would do, job by job in execution order,
 * without running anything. `renderDryRun` is pure; `dryRunCommand` gathers
 * the plan and resolves the environment as a run would (values of secrets
 * never reach the output).
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseDotenv } from "dotenv";
import type { Plan, PlanJob, PlanRetry, PlanStep } from "../core/plan-types.js";
import { formatDuration } from "../core/duration.js";
import { Redactor } from "../engine/redact.js";
import { resolveEnv } from "../env/resolve.js";
import { conditionLabel } from "./graph/ascii.js";
import { describeNeeds } from "./graph/layers.js";
import type { CliIo } from "./io.js";
import type { RunOptions } from "./run-options.js";
import { selectJobs } from "./select-jobs.js";
import { repoDirOf, selectWorkflow } from "./workflows.js";

export interface DryRunEnv {
  /** Names the run's environment gets from the workflow's providers and the command line. */
  readonly keys: readonly string[];
  /** Names whose values are secret: shown as `NAME=***`. */
  readonly secretKeys: readonly string[];
  /** Known values of keys that are not secret, shown as `NAME=value`. */
  readonly values?: Readonly<Record<string, string>>;
}

const SCRIPT_LINES = 3;

/** The dry-run text for `plan` (all its jobs, or `jobs`, a subset in plan order). */
export function renderDryRun(plan: Plan, env: DryRunEnv, jobs: readonly PlanJob[] = plan.jobs): string {
  const secret = new Set(env.secretKeys);
  const show = (key: string, value: string | undefined): string =>
    secret.has(key) ? `${key}=***` : value === undefined ? key : `${key}=${value}`;
  const lines: string[] = [
    `dry run: workflow ${plan.workflow.name} (${plan.workflow.file}), plan ${plan.hash.slice(0, 12)}, bundle ${plan.bundle.slice(0, 12)}`,
    `${jobs.length} of ${plan.jobs.length} job${plan.jobs.length === 1 ? "" : "s"} would run; nothing is executed`,
  ];
  const inputs = Object.entries(plan.inputs ?? {});
  if (inputs.length > 0) lines.push(`inputs: ${inputs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}`);

  const sources = plan.env.map((p) => {
    switch (p.kind) {
      case "static":
        return `static (${p.keys.length} key${p.keys.length === 1 ? "" : "s"}${p.secret ? ", secret" : ""})`;
      case "file":
        return `file ${p.path}${p.optional ? " (optional)" : ""}${p.secret ? " (secret)" : ""}`;
      case "sops":
        return `sops ${p.path}${p.optional ? " (optional)" : ""} (secret)`;
      case "required":
        return `required ${p.names.join(", ")}`;
    }
  });
  lines.push("", "env");
  if (sources.length > 0) lines.push(`  from: ${sources.join("; ")}`);
  const keys = [...new Set(env.keys)].sort();
  if (keys.length === 0) lines.push("  (no variables)");
  for (const key of keys) lines.push(`  ${show(key, env.values?.[key])}`);

  jobs.forEach((job, index) => {
    const executor = plan.executors[job.executor];
    lines.push("", `${index + 1}. ${job.id}`);
    lines.push(`   executor: ${job.executor}${executor && executor.kind !== job.executor ? ` (${executor.kind})` : ""}`);
    const needs = describeNeeds(plan, job);
    if (needs.length > 0) lines.push(`   needs:    ${needs.join(", ")}`);
    lines.push(`   if:       ${conditionLabel(job.if)}`);
    if (job.timeoutMs !== undefined) lines.push(`   timeout:  ${formatDuration(job.timeoutMs)}`);
    if (job.retry.attempts > 1) lines.push(`   retry:    ${retryLabel(job.retry)} (whole job)`);
    if (job.continueOnError) lines.push("   continue on error");
    for (const input of job.inputs.artifacts)
      lines.push(`   input:    artifact ${input.name} -> ${input.path} (from ${input.from.join(", ")})`);
    for (const output of job.outputs.artifacts) lines.push(`   output:   artifact ${output.name} <- ${output.path}`);
    if (job.cache) lines.push("   cache:    skipped when an earlier run had the same job, inputs and env");
    for (const cache of job.caches) {
      const key = cache.key.map((p) => ("text" in p ? p.text : `hashFiles(${p.hashFiles.join(", ")})`)).join("-");
      const fallback = cache.restoreKeys.length > 0 ? ` (else ${cache.restoreKeys.map((k) => `${k}*`).join(", ")})` : "";
      lines.push(`   caches:   ${cache.paths.join(", ")} by key ${key}${fallback}`);
    }
    const jobEnv = Object.keys(job.env).sort();
    if (jobEnv.length > 0) lines.push(`   env:      ${jobEnv.map((k) => show(k, job.env[k])).join(" ")}`);
    lines.push("   steps:");
    job.steps.forEach((step, i) => lines.push(...renderStep(step, i, job.env, show)));
  });
  return `${lines.join("\n")}\n`;
}

function renderStep(
  step: PlanStep,
  index: number,
  jobEnv: Readonly<Record<string, string>>,
  show: (key: string, value: string | undefined) => string,
): string[] {
  const pad = "        ";
  const lines = [`     ${index + 1}) ${step.name} [${step.kind}]`];
  if (step.kind === "sh" && step.run !== undefined) {
    const script = step.run.replace(/\n+$/, "").split("\n");
    for (const line of script.slice(0, SCRIPT_LINES)) lines.push(`${pad}$ ${line}`);
    if (script.length > SCRIPT_LINES)
      lines.push(`${pad}  ... ${script.length - SCRIPT_LINES} more line${script.length - SCRIPT_LINES === 1 ? "" : "s"}`);
    if (step.container) lines.push(`${pad}container: ${step.container}`);
  } else if (step.kind === "uses" && step.action) {
    lines.push(`${pad}uses ${step.action.name}${step.action.version ? `@${step.action.version}` : ""}`);
  } else if (step.kind === "fn" && step.source) {
    const first = step.source.split("\n")[0] ?? "";
    lines.push(`${pad}${first.length > 70 ? `${first.slice(0, 67)}...` : first}`);
  }
  if (step.if && !(step.if.kind === "status" && step.if.status === "success")) lines.push(`${pad}if: ${conditionLabel(step.if)}`);
  if (step.retry.attempts > 1) lines.push(`${pad}retry: ${retryLabel(step.retry)}`);
  if (step.timeoutMs !== undefined) lines.push(`${pad}timeout: ${formatDuration(step.timeoutMs)}`);
  if (step.continueOnError) lines.push(`${pad}continue on error`);
  if (step.workdir) lines.push(`${pad}workdir: ${step.workdir}`);
  // Only what the step adds to (or changes in) the job's env.
  const keys = Object.keys(step.env)
    .filter((k) => jobEnv[k] !== step.env[k])
    .sort();
  if (keys.length > 0) lines.push(`${pad}env: ${keys.map((k) => show(k, step.env[k])).join(" ")}`);
  return lines;
}

export function retryLabel(retry: PlanRetry): string {
  const jitter = retry.jitter > 0 ? `, jitter ${retry.jitter === 1 ? "full" : retry.jitter}` : "";
  const cap = retry.maxDelayMs > 0 ? ` up to ${formatDuration(retry.maxDelayMs)}` : "";
  return `${retry.attempts} attempts, ${retry.backoff} delay from ${formatDuration(retry.delayMs)}${cap}${jitter}`;
}

/** `gantry run --dry-run`: print the dry run of the selected workflow and jobs. Returns the exit code. */
export async function dryRunCommand(options: RunOptions, io: CliIo): Promise<number> {
  const repoDir = repoDirOf(options);
  // Names the command line provides satisfy `env.required` at compile time too.
  const cliEnv: Record<string, string> = {};
  for (const file of [...options.envFile, ...options.secretFile]) {
    const path = resolve(repoDir, file);
    if (existsSync(path)) Object.assign(cliEnv, parseDotenv(readFileSync(path, "utf8")));
  }
  Object.assign(cliEnv, options.env, options.secret);
  const { loaded, plan } = await selectWorkflow({
    ...(options.dir ? { dir: options.dir } : {}),
    ...(options.file ? { file: options.file } : {}),
    ...(options.workflow ? { workflow: options.workflow } : {}),
    env: { ...process.env, ...cliEnv },
    inputs: options.inputs ?? {},
  });
  const jobs = selectJobs(plan, options.job, options.only);
  // The same resolution a run does (files read, sops decrypted, required names checked); values stay here.
  const resolved = await resolveEnv(loaded.workflow.env ?? [], {
    repoDir,
    workflowFile: loaded.file,
    workflowName: plan.workflow.name,
    processEnv: process.env,
    cli: { envFiles: options.envFile, secretFiles: options.secretFile, env: options.env, secrets: options.secret },
  });
  const env: DryRunEnv = { keys: Object.keys(resolved.values), secretKeys: [...resolved.secretKeys], values: resolved.values };
  // Scripts and step names may hold a secret interpolated at definition time.
  io.out(new Redactor(resolved.secretValues).redact(renderDryRun(plan, env, jobs).replace(/\n$/, "")));
  return 0;
}
