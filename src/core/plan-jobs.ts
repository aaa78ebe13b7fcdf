/**
 * Compiling `workflow.jobs`: validation of each job, matrix expansion, the
 * checks across jobs (needs, cycles, names, artifacts), then one `PlanJob`
 * per expansion, in a stable topological order.
 */
import { compileCondition, SUCCESS_CONDITION } from "./conditions.js";
import { parseDuration } from "./duration.js";
import { parseSize } from "./size.js";
import { ancestors, findCycles, topologicalOrder } from "./graph.js";
import { hashValue } from "./hash.js";
import { describe, joinPath, messageOf, type Issues } from "./issues.js";
import { expandMatrix, formatCombination, jobId, matrixEnv, type Combination } from "./matrix.js";
import { checkRelativePath } from "./paths.js";
import { compileCaches } from "./plan-caches.js";
import { PlanExecutorCollector } from "./plan-executors.js";
import type { ExecutorKinds } from "./executor-kind.js";
import { compileStep, hashableCondition } from "./plan-steps.js";
import type { PlanArtifactInput, PlanExecutor, PlanJob, PlanRetry, PlanStep } from "./plan-types.js";
import { compileRetry } from "./retry.js";
import { check, jobSchema } from "./schemas.js";
import { didYouMean } from "./suggest.js";
import type { z } from "zod";

export interface JobsScope {
  readonly issues: Issues;
  readonly matrixLimit: number;
  readonly defaultRetry: PlanRetry;
  readonly defaultTimeoutMs: number | undefined;
  readonly defaultLogLimit: number | undefined;
  readonly defaultEnv: Readonly<Record<string, string>>;
  /** `defaults.executor` as written (validated by the caller). */
  readonly defaultExecutor: unknown;
  /** The executor kinds the plan may use, with their option schemas. */
  readonly executorKinds: ExecutorKinds;
}

type JobDefParsed = z.output<typeof jobSchema>;

interface JobEntry {
  readonly key: string;
  readonly path: string;
  readonly def: JobDefParsed | undefined;
  /** Keys this job needs that exist and are not itself, without repeats. */
  readonly needs: string[];
  readonly combos: ReadonlyArray<Combination | undefined>;
  readonly matrixKeys: readonly string[];
  readonly ids: readonly string[];
  /** Whether the job has problems of its own (its checks across jobs are then partial). */
  readonly broken: boolean;
}

const LOCAL_EXECUTOR = { kind: "local", options: {} } as const;

export function compileJobs(
  jobs: Readonly<Record<string, unknown>>,
  scope: JobsScope,
): { jobs: PlanJob[]; executors: Record<string, PlanExecutor> } | undefined {
  const { issues } = scope;
  const keys = Object.keys(jobs);
  const entries = new Map<string, JobEntry>();

  for (const key of keys) {
    const path = joinPath("jobs", key);
    const before = issues.count;
    const raw = jobs[key];
    const def = check(jobSchema, raw, path, issues) ?? lenientJob(raw);
    const rawNeeds = def?.needs ?? salvageNeeds(raw);
    const needs = new Set<string>();
    rawNeeds.forEach((need, i) => {
      const at = joinPath(joinPath(path, "needs"), i);
      if (need === key) issues.add(at, `job ${JSON.stringify(key)} cannot need itself`);
      else if (!Object.prototype.hasOwnProperty.call(jobs, need))
        issues.add(at, `no job named ${JSON.stringify(need)}${didYouMean(need, keys)}`);
      else needs.add(need);
    });
    let combos: ReadonlyArray<Combination | undefined> = [undefined];
    let matrixKeys: readonly string[] = [];
    if (def?.matrix !== undefined) {
      const expanded = expandMatrix(def.matrix, joinPath(path, "matrix"), issues, scope.matrixLimit);
      combos = expanded?.combinations ?? [];
      matrixKeys = expanded?.keys ?? [];
    }
    const ids = combos.map((combo) => jobId(key, combo, matrixKeys));
    entries.set(key, { key, path, def, needs: [...needs], combos, matrixKeys, ids, broken: issues.count > before });
  }

  const graph = new Map([...entries].map(([key, entry]) => [key, entry.needs]));
  for (const cycle of findCycles(graph))
    issues.add(joinPath(joinPath("jobs", cycle[0]!), "needs"), `dependency cycle: ${cycle.join(" -> ")}`);
  checkNames(entries, issues);
  const artifacts = checkArtifacts(entries, graph, issues);

  const registry = new PlanExecutorCollector(scope.executorKinds);
  const compiled = new Map<string, PlanJob[]>();
  for (const entry of entries.values()) {
    if (entry.def) compiled.set(entry.key, compileExpansions(entry, entries, artifacts.get(entry.key) ?? [], registry, scope));
  }
  if (issues.count > 0) return undefined;
  const ordered = topologicalOrder(graph).flatMap((key) => compiled.get(key) ?? []);
  return { jobs: ordered, executors: registry.entries };
}

/**
 * The fields of an invalid job that are valid on their own, so that its
 * other problems (steps, executor, matrix) are reported in the same pass.
 * Such a job is marked broken and never enters a plan.
 */
function lenientJob(raw: unknown): JobDefParsed | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [field, schema] of Object.entries(jobSchema.shape)) {
    const value: unknown = (raw as Record<string, unknown>)[field];
    if (value === undefined) continue;
    const parsed = (schema as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(value);
    if (parsed.success) out[field] = parsed.data;
  }
  return out.steps === undefined ? undefined : (out as JobDefParsed);
}

function salvageNeeds(raw: unknown): string[] {
  try {
    const needs = typeof raw === "object" && raw !== null ? (raw as { needs?: unknown }).needs : undefined;
    return Array.isArray(needs) ? needs.filter((n): n is string => typeof n === "string") : [];
  } catch {
    return [];
  }
}

function checkNames(entries: ReadonlyMap<string, JobEntry>, issues: Issues): void {
  const byName = new Map<string, string>();
  for (const entry of entries.values()) {
    const name = entry.def?.name ?? entry.key;
    const first = byName.get(name);
    if (first === undefined) byName.set(name, entry.key);
    else {
      const at = entry.def?.name !== undefined ? joinPath(entry.path, "name") : entry.path;
      issues.add(at, `duplicate job name ${JSON.stringify(name)} (${joinPath("jobs", first)} has the same name)`);
    }
  }
}

/** Checks artifact paths and that every consumed artifact has exactly one producer among the job's ancestors. */
function checkArtifacts(
  entries: ReadonlyMap<string, JobEntry>,
  graph: ReadonlyMap<string, readonly string[]>,
  issues: Issues,
): Map<string, PlanArtifactInput[]> {
  const producers = new Map<string, string[]>();
  for (const entry of entries.values()) {
    for (const [name, path] of Object.entries(entry.def?.outputs?.artifacts ?? {})) {
      const checked = checkRelativePath(path);
      if (!checked.ok) issues.add(joinPath(joinPath(joinPath(entry.path, "outputs"), "artifacts"), name), checked.error);
      const list = producers.get(name);
      if (list) list.push(entry.key);
      else producers.set(name, [entry.key]);
    }
  }
  const result = new Map<string, PlanArtifactInput[]>();
  for (const entry of entries.values()) {
    const inputs: PlanArtifactInput[] = [];
    const wanted = Object.entries(entry.def?.inputs?.artifacts ?? {});
    result.set(entry.key, inputs);
    // Only for jobs that consume artifacts: the ancestors of every job of a long chain would be quadratic.
    if (wanted.length === 0) continue;
    const up = ancestors(graph, entry.key);
    const complete = [...up].every((k) => !entries.get(k)?.broken);
    for (const [name, path] of wanted) {
      const at = joinPath(joinPath(joinPath(entry.path, "inputs"), "artifacts"), name);
      const checked = checkRelativePath(path);
      if (!checked.ok) issues.add(at, checked.error);
      const all = producers.get(name) ?? [];
      const from = all.filter((k) => up.has(k));
      if (from.length === 0 && complete) {
        const elsewhere = all.filter((k) => k !== entry.key);
        const hint =
          elsewhere.length > 0
            ? ` (it is produced by ${elsewhere.map((k) => JSON.stringify(k)).join(", ")}: add it to needs)`
            : didYouMean(name, producers.keys());
        issues.add(at, `artifact ${JSON.stringify(name)} is not produced by any job that ${JSON.stringify(entry.key)} needs${hint}`);
      } else if (from.length > 1) {
        issues.add(
          at,
          `artifact ${JSON.stringify(name)} is produced by more than one job that ${JSON.stringify(entry.key)} needs: ${from.map((k) => JSON.stringify(k)).join(", ")}; rename one of them`,
        );
      }
      if (checked.ok && from.length === 1) {
        inputs.push({ name, path: checked.path, from: entries.get(from[0]!)?.ids ?? [] });
      }
    }
  }
  return result;
}

function callFactory(
  factory: unknown,
  combo: Combination | undefined,
  keys: readonly string[],
  path: string,
  what: string,
  issues: Issues,
): { ok: boolean; value?: unknown } {
  if (typeof factory !== "function") return { ok: true, value: factory };
  try {
    return { ok: true, value: (factory as (args: unknown) => unknown)({ matrix: combo ?? {} }) };
  } catch (error) {
    const where = combo ? ` for ${formatCombination(combo, keys)}` : "";
    issues.add(path, `the ${what} function threw${where}: ${messageOf(error)}`);
    return { ok: false };
  }
}

function compileExpansions(
  entry: JobEntry,
  entries: ReadonlyMap<string, JobEntry>,
  inputs: PlanArtifactInput[],
  registry: PlanExecutorCollector,
  scope: JobsScope,
): PlanJob[] {
  const { issues } = scope;
  const def = entry.def!;
  const path = entry.path;
  const condition = compileCondition(def.if, joinPath(path, "if"), issues) ?? SUCCESS_CONDITION;
  const retry = compileRetry(def.retry as never, joinPath(path, "retry"), issues);
  const timeoutMs = def.timeout !== undefined ? parseDuration(def.timeout) : scope.defaultTimeoutMs;
  const logLimitBytes = def.logLimit !== undefined ? parseSize(def.logLimit) : scope.defaultLogLimit;
  const needs = entry.needs.flatMap((k) => entries.get(k)?.ids ?? []);
  const outputs = Object.entries(def.outputs?.artifacts ?? {}).flatMap(([name, p]) => {
    const checked = checkRelativePath(p);
    return checked.ok ? [{ name, path: checked.path }] : [];
  });
  const caches = compileCaches(def.caches, joinPath(path, "caches"), issues);
  const baseName = def.name ?? entry.key;
  const out: PlanJob[] = [];
  entry.combos.forEach((combo, i) => {
    const matrix = combo ?? {};
    const env = { ...scope.defaultEnv, ...(combo ? matrixEnv(combo) : {}), ...def.env };

    const executorPath = def.executor !== undefined ? joinPath(path, "executor") : "defaults.executor";
    const made = callFactory(
      def.executor ?? scope.defaultExecutor ?? LOCAL_EXECUTOR,
      combo,
      entry.matrixKeys,
      executorPath,
      "executor",
      issues,
    );
    const executor = made.ok ? registry.add(made.value, executorPath, issues) : undefined;

    const stepsPath = joinPath(path, "steps");
    const listed = callFactory(def.steps, combo, entry.matrixKeys, stepsPath, "steps", issues);
    const steps: PlanStep[] = [];
    if (listed.ok && !Array.isArray(listed.value)) {
      issues.add(
        stepsPath,
        `expected an array of steps${typeof def.steps === "function" ? " from the steps function" : ""}, got ${describe(listed.value)}`,
      );
    } else if (listed.ok && Array.isArray(listed.value)) {
      if (listed.value.length === 0) issues.add(stepsPath, "a job needs at least one step");
      listed.value.forEach((raw: unknown, index) => {
        const step = compileStep(raw, index, { jobPath: path, jobEnv: env, defaultRetry: scope.defaultRetry }, issues);
        if (step) steps.push(step);
      });
    }
    if (!executor) return;

    const id = entry.ids[i] ?? entry.key;
    const fields = {
      key: entry.key,
      matrix,
      needs,
      if: condition,
      steps,
      env,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(logLimitBytes !== undefined ? { logLimitBytes } : {}),
      retry,
      continueOnError: def.continueOnError ?? false,
      inputs: { artifacts: inputs },
      outputs: { artifacts: outputs },
      cache: def.cache ?? false,
      caches,
      // Only when set, so the hashes of jobs without it stay what they were.
      ...(def.failFast === true ? { failFast: true as const } : {}),
    };
    // Over this job's own content and its executor's hash: never over other jobs' hashes.
    const hash = hashValue({
      ...fields,
      if: hashableCondition(condition),
      executor: registry.entries[executor]?.hash,
      steps: steps.map((s) => s.hash),
    });
    out.push({
      id,
      name: combo ? `${baseName} (${formatCombination(combo, entry.matrixKeys)})` : baseName,
      ...fields,
      executor,
      labels: [...(def.labels ?? [])],
      hash,
    });
  });
  return out;
}
