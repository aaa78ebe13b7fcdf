/**
 * The plan compiler: a loaded workflow definition in, an immutable JSON plan
 * out, or a `PlanError` listing every problem found (never another error,
 * whatever the input). Pure: no I/O, no timers.
 */
import { CronPattern } from "croner";
import { PlanError } from "./errors.js";
import { hashValue } from "./hash.js";
import { describe, Issues, joinPath, messageOf } from "./issues.js";
import { DEFAULT_MATRIX_LIMIT } from "./matrix.js";
import { PLAN_VERSION, type Plan, type PlanEnvProvider } from "./plan-types.js";
import { compileJobs } from "./plan-jobs.js";
import { describeInputs, inputEnv, parseInputs, type InputsJsonSchema } from "./inputs.js";
import { compileRetry } from "./retry.js";
import { check, defaultsSchema, envProviderSchema, triggersSchema, workflowSchema } from "./schemas.js";
import type { Triggers } from "./definition.js";
import { onlyExclusions } from "./triggers.js";
import { parseDuration } from "./duration.js";
import { parseSize } from "./size.js";
import { PlanExecutorCollector } from "./plan-executors.js";
import type { ExecutorKinds } from "./executor-kind.js";

export interface CompileOptions {
  /** The workflow file, relative to the repository root (`.gantry/ci.ts`); named in every issue. */
  readonly file: string;
  /** Hash of the bundle that holds the workflow's code. */
  readonly bundle: string;
  /**
   * The environment the run will see, to check `env.required(...)` names
   * against (together with the workflow's `env.static` values). Pass the
   * process env merged with what `env.file`/`env.sops` providers load: the
   * compiler reads no files. When `undefined`, required names are not checked.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The executor kinds the plan may use (their option schemas). The public
   * `compileWorkflow` of `gantry` defaults to the kinds Gantry ships. A kind
   * not listed is refused, with the list of the kinds that are.
   */
  readonly executors: ExecutorKinds;
  /** Overrides `workflow.matrixLimit` (default 256). */
  readonly matrixLimit?: number;
  /**
   * The inputs of the run this plan is for (`--input`, the API's `inputs`):
   * validated by the workflow's inputs schema (an unknown or invalid one is
   * an issue at `inputs.<name>`) and stored in the plan. Undefined: the plan
   * is not for a run (listing, validation), inputs are not checked.
   */
  readonly inputs?: Readonly<Record<string, unknown>>;
}

/**
 * Compile a workflow (the default export of a `.gantry/*.ts` module) into a
 * plan. Throws `PlanError` with every issue found; never throws anything else.
 */
export function compileWorkflow(value: unknown, options: CompileOptions): Plan {
  const file = typeof options?.file === "string" ? options.file : "<workflow>";
  const issues = new Issues(file);
  let plan: Plan | undefined;
  try {
    plan = compile(value, options, issues);
  } catch (error) {
    issues.add("", `could not compile the workflow: ${messageOf(error)}`);
  }
  if (issues.count > 0 || plan === undefined) {
    throw new PlanError(issues.count > 0 ? issues.list : [{ file, path: "", message: "could not compile the workflow" }]);
  }
  return plan;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function compile(value: unknown, options: CompileOptions, issues: Issues): Plan | undefined {
  if (!isPlainObject(value) || (typeof value.kind === "string" && value.kind !== "workflow")) {
    issues.add("", `the default export is not a workflow (got ${describe(value)}); write \`export default workflow({ ... })\``);
    return undefined;
  }
  const top = check(workflowSchema, value, "", issues);

  const triggers = compileTriggers(value.on, issues);
  const env = compileEnv(value.env, options.env, issues, typeof value.name === "string" ? value.name : "");

  const inputs = compileInputs(value.inputs, options.inputs, issues);
  const defaults = check(defaultsSchema, value.defaults ?? {}, "defaults", issues);
  const defaultRetry = compileRetry(defaults?.retry as never, "defaults.retry", issues);
  if (defaults?.executor !== undefined) new PlanExecutorCollector(options.executors).add(defaults.executor, "defaults.executor", issues);

  const optionLimit = typeof options.matrixLimit === "number" && options.matrixLimit >= 1 ? Math.floor(options.matrixLimit) : undefined;
  const workflowLimit =
    typeof value.matrixLimit === "number" && Number.isInteger(value.matrixLimit) && value.matrixLimit >= 1 ? value.matrixLimit : undefined;

  if (!isPlainObject(value.jobs)) return undefined;
  const compiled = compileJobs(value.jobs, {
    issues,
    matrixLimit: optionLimit ?? workflowLimit ?? DEFAULT_MATRIX_LIMIT,
    defaultRetry,
    defaultTimeoutMs: defaults?.timeout !== undefined ? parseDuration(defaults.timeout) : undefined,
    defaultLogLimit: defaults?.logLimit !== undefined ? parseSize(defaults.logLimit) : undefined,
    defaultEnv: { ...defaults?.env, ...inputEnv(inputs?.values ?? {}) },
    defaultExecutor: defaults?.executor,
    executorKinds: options.executors,
  });
  if (Object.keys(value.jobs).length === 0) issues.add("jobs", "a workflow needs at least one job");

  if (issues.count > 0 || !top || !triggers || !env || !compiled || !inputs) return undefined;
  const body: Omit<Plan, "hash"> = {
    version: PLAN_VERSION,
    // `failFast` and inputs only when set, so the hashes of plans without them stay what they were.
    workflow: {
      name: top.name,
      file: options.file,
      triggers,
      ...(top.failFast === true ? { failFast: true as const } : {}),
      ...(inputs.schema ? { inputs: inputs.schema } : {}),
    },
    ...(inputs.values ? { inputs: inputs.values } : {}),
    bundle: options.bundle,
    env,
    executors: compiled.executors,
    jobs: compiled.jobs,
  };
  return { ...body, hash: hashValue(body) };
}

/** The inputs' JSON schema and, for a run, their parsed values; undefined after issues. */
function compileInputs(
  schema: unknown,
  given: Readonly<Record<string, unknown>> | undefined,
  issues: Issues,
): { schema?: InputsJsonSchema; values?: Record<string, unknown> } | undefined {
  if (schema === undefined) {
    const names = Object.keys(given ?? {});
    for (const name of names) issues.add(joinPath("inputs", name), `unknown input "${name}": the workflow declares no inputs`);
    return names.length > 0 ? undefined : {};
  }
  const json = describeInputs(schema, issues);
  if (!json) return undefined;
  if (given === undefined) return { schema: json };
  const values = parseInputs(schema, json, given, issues);
  return values ? { schema: json, values } : undefined;
}

function compileTriggers(on: unknown, issues: Issues): Triggers | undefined {
  const triggers = check(triggersSchema, on ?? {}, "on", issues);
  if (!triggers) return undefined;
  const crons = triggers.cron === undefined ? [] : typeof triggers.cron === "string" ? [triggers.cron] : triggers.cron;
  let ok = true;
  crons.forEach((expression, i) => {
    const path = typeof triggers.cron === "string" ? "on.cron" : joinPath("on.cron", i);
    try {
      new CronPattern(expression);
    } catch (error) {
      ok = false;
      issues.add(path, `invalid cron expression ${JSON.stringify(expression)}: ${messageOf(error).replace(/^CronPattern: /, "")}`);
    }
  });
  for (const [event, filter] of [
    ["push", triggers.push],
    ["pullRequest", triggers.pullRequest],
  ] as const) {
    if (!filter) continue;
    if ("pathsIgnore" in filter && filter.paths && filter.pathsIgnore) {
      ok = false;
      issues.add(`on.${event}`, 'use paths or pathsIgnore, not both (exclude with a "!" pattern in paths instead)');
    }
    for (const [key, patterns] of Object.entries(filter) as [string, readonly string[] | undefined][]) {
      if (patterns && onlyExclusions(patterns)) {
        ok = false;
        issues.add(`on.${event}.${key}`, `every pattern starts with "!", so nothing can match; add what to include first, like "**"`);
      }
    }
  }
  return ok ? triggers : undefined;
}

function compileEnv(list: unknown, given: CompileOptions["env"], issues: Issues, workflowName: string): PlanEnvProvider[] | undefined {
  if (list === undefined) return [];
  if (!Array.isArray(list)) return undefined; // reported by the workflow schema
  const out: PlanEnvProvider[] = [];
  const before = issues.count;
  const staticKeys = new Set<string>();
  const required: Array<{ name: string; path: string }> = [];
  list.forEach((raw: unknown, i) => {
    const provider = check(envProviderSchema, raw, joinPath("env", i), issues);
    if (!provider) return;
    switch (provider.kind) {
      case "static": {
        const keys = Object.keys(provider.values);
        keys.forEach((k) => staticKeys.add(k));
        const secret = provider.secret ?? false;
        // Secret values never enter the plan: only their names.
        out.push({ kind: "static", keys, values: secret ? {} : { ...provider.values }, secret });
        break;
      }
      case "file":
        out.push({ kind: "file", path: provider.path, optional: provider.optional ?? false, secret: provider.secret ?? false });
        break;
      case "sops":
        out.push({ kind: "sops", path: provider.path, optional: provider.optional ?? false });
        break;
      case "required":
        provider.names.forEach((name, j) => required.push({ name, path: joinPath(joinPath(joinPath("env", i), "names"), j) }));
        out.push({ kind: "required", names: [...provider.names] });
        break;
    }
  });
  if (given !== undefined) {
    for (const { name, path } of required) {
      const value = Object.prototype.hasOwnProperty.call(given, name) ? given[name] : undefined;
      if (value === undefined && !staticKeys.has(name))
        issues.add(
          path,
          `workflow ${JSON.stringify(workflowName)} needs the environment variable ${name}, which is not set; set it or pass --env ${name}=... / --secret ${name}=...`,
        );
    }
  }
  return issues.count > before ? undefined : out;
}
