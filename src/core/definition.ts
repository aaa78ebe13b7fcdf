/**
 * The definition API: what a user writes in `.gantry/*.ts`.
 *
 * Everything here is plain data plus, for TypeScript steps, conditions and
 * executor factories, functions. The plan compiler (`plan.ts`) turns a
 * `Workflow` into a JSON `Plan`; functions stay in the bundle and are found
 * again by their definition path (`jobs.report.steps[0]`).
 */
import type { Duration } from "./duration.js";
import type { Size } from "./size.js";
import type { AnyInputs, StepContext, ConditionContext } from "./context.js";

export type { Duration } from "./duration.js";

// ---------------------------------------------------------------- retry

export type Backoff = "constant" | "linear" | "exponential";

export interface RetryPolicy {
  /** Total attempts, including the first. `1` means no retry. */
  readonly attempts: number;
  readonly backoff?: Backoff;
  /** Delay before the second attempt (default `"1s"`). */
  readonly delay?: Duration;
  /** Upper bound for any single delay. */
  readonly maxDelay?: Duration;
  /** `true` for full jitter, or a fraction 0..1 of the delay to randomise. */
  readonly jitter?: boolean | number;
}

// ---------------------------------------------------------------- conditions

export type StatusConditionName = "success" | "failure" | "always" | "cancelled";

export interface StatusCondition {
  readonly kind: "status";
  readonly status: StatusConditionName;
}

/** A predicate evaluated in the runner; return `true` to run. */
export type PredicateCondition = (ctx: ConditionContext) => boolean | Promise<boolean>;

/** `success()`, `failure()`, `always()`, `cancelled()`, `sh\`test -f x\`` or a predicate. */
export type Condition = StatusCondition | ShStep | PredicateCondition;

const statusCondition = (status: StatusConditionName): StatusCondition => Object.freeze({ kind: "status", status });
/** Run when every dependency succeeded (the default). */
export const success = (): StatusCondition => statusCondition("success");
/** Run when a dependency failed. */
export const failure = (): StatusCondition => statusCondition("failure");
/** Run whatever happened before, also after cancellation. */
export const always = (): StatusCondition => statusCondition("always");
/** Run only when the run was cancelled. */
export const cancelled = (): StatusCondition => statusCondition("cancelled");

// ---------------------------------------------------------------- steps

export interface StepOptions {
  readonly name?: string;
  readonly if?: Condition;
  readonly retry?: RetryPolicy;
  readonly timeout?: Duration;
  readonly continueOnError?: boolean;
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory relative to the job directory. */
  readonly workdir?: string;
}

export interface ShStep extends StepOptions {
  readonly kind: "sh";
  readonly run: string;
  /** Run just this step in another image, with the job's workspace mounted. */
  readonly container?: string;
}

/** A TypeScript step; `I` is the type of `ctx.inputs` it reads (checked against the workflow's inputs schema). */
export type StepFn<I = AnyInputs> = (ctx: StepContext<I>) => void | Promise<void>;

export interface FnStep<I = AnyInputs> extends StepOptions {
  readonly kind: "fn";
  readonly fn: StepFn<I>;
}

export interface UsesStep extends StepOptions {
  readonly kind: "uses";
  readonly action: Action<unknown>;
  readonly inputs: unknown;
}

/** A step as written: a `sh` step, a `uses` step, a bare async function, or `step(options, fn)`. */
export type Step<I = AnyInputs> = ShStep | FnStep<I> | UsesStep | StepFn<I>;

/** Quote a value for a POSIX shell: `it's` -> `'it'\''s'`. */
export function shellQuote(value: unknown): string {
  const text = Array.isArray(value) ? value.map(shellQuote).join(" ") : String(value);
  if (text !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export interface ShFunction {
  /** `sh\`npm test -- ${file}\`` : interpolated values are shell-quoted (arrays become several words). */
  (strings: TemplateStringsArray, ...values: unknown[]): ShStep;
  /** `sh("npm test", { timeout: "5m" })` : the string is used as written. */
  (command: string, options?: StepOptions & { container?: string }): ShStep;
  /** `sh.with({ name: "test" })\`npm test\``. */
  with(options: StepOptions & { container?: string }): (strings: TemplateStringsArray, ...values: unknown[]) => ShStep;
}

/** True for the first argument of a tagged template call (it carries `raw`). */
export function isTemplateStrings(value: unknown): value is TemplateStringsArray {
  return Array.isArray(value) && Array.isArray((value as { raw?: unknown }).raw);
}

/**
 * The script of a tagged `sh` template: the RAW strings, as typed (so
 * `\033`, `C:\users` and `'a\.b'` reach the shell as in a shell script),
 * with each interpolated value shell-quoted. The two escapes JavaScript
 * forces inside a template, `` \` `` and `\${`, reach the shell as the
 * backtick and `${` the user meant (`sh\`echo \${HOME:-/}\``).
 */
export function shTemplate(strings: TemplateStringsArray, values: readonly unknown[]): string {
  const raw = strings.raw;
  let out = templateText(raw[0] ?? "");
  for (let i = 0; i < values.length; i++) out += shellQuote(values[i]) + templateText(raw[i + 1] ?? "");
  return out;
}

/** Raw template text as shell text: `` \` `` -> `` ` `` and `\${` -> `${`; every other backslash stays (`\\` is two). */
function templateText(raw: string): string {
  return raw.includes("\\") ? raw.replace(/\\(\\|`|\$(?=\{))/g, (pair: string, next: string) => (next === "\\" ? pair : next)) : raw;
}

/**
 * A `sh` step. A command that is neither a string nor a template is kept
 * as given in `run`, so that the plan compiler reports it against the step
 * (`jobs.build.steps[2].run: ...`) instead of a TypeError here.
 */
function shStep(first: unknown, values: readonly unknown[], options: StepOptions & { container?: string }): ShStep {
  const run = typeof first === "string" ? first : isTemplateStrings(first) ? shTemplate(first, values) : first;
  return Object.freeze({ ...options, kind: "sh", run }) as ShStep;
}

export const sh: ShFunction = Object.assign(
  (first: TemplateStringsArray | string, ...rest: unknown[]): ShStep => {
    if (isTemplateStrings(first)) return shStep(first, rest, {});
    const options = rest[0];
    return shStep(first, [], typeof options === "object" && options !== null ? options : {});
  },
  {
    with:
      (options: StepOptions & { container?: string }) =>
      (strings: TemplateStringsArray, ...values: unknown[]): ShStep =>
        shStep(strings, values, options),
  },
);

/** Attach options (name, if, retry, timeout, continueOnError, env) to any step. */
export function step<I = AnyInputs>(options: StepOptions, inner: Step<I>): ShStep | FnStep<I> | UsesStep {
  if (typeof inner === "function") return Object.freeze({ ...options, kind: "fn" as const, fn: inner });
  return Object.freeze({ ...inner, ...options });
}

// ---------------------------------------------------------------- actions

/** Minimal structural view of a zod schema, so actions may bring their own zod copy. */
export interface InputSchema<T> {
  safeParse(
    value: unknown,
  ): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } };
}

export interface Action<I> {
  readonly kind: "action";
  readonly name: string;
  readonly version?: string;
  readonly inputs: InputSchema<I>;
  readonly run: (ctx: StepContext, inputs: I) => void | Promise<void>;
}

/** A reusable typed step, shipped as an ordinary npm package. */
export function defineAction<I>(def: Omit<Action<I>, "kind">): Action<I> {
  return Object.freeze({ ...def, kind: "action" });
}

/** Use an action; `inputs` are type-checked against its schema and validated at plan time. */
export function uses<I>(action: Action<I>, inputs: NoInfer<I>, options: StepOptions = {}): UsesStep {
  return Object.freeze({ ...options, kind: "uses", action: action as Action<unknown>, inputs });
}

// ---------------------------------------------------------------- executors

/**
 * Where a job runs: `{ kind, options }`, made by `executors.local()`,
 * `.container()`, `.ssh()` (see `src/executors/definitions.ts`) or by the
 * helper of an executor kind you registered. The kind's descriptor checks
 * the options when the plan is compiled.
 */
export interface ExecutorDef {
  readonly kind: string;
  readonly options: object;
}

// ---------------------------------------------------------------- env

export type EnvProvider =
  | { readonly kind: "static"; readonly values: Readonly<Record<string, string>>; readonly secret?: boolean }
  | { readonly kind: "file"; readonly path: string; readonly optional?: boolean; readonly secret?: boolean }
  | { readonly kind: "sops"; readonly path: string; readonly optional?: boolean }
  | { readonly kind: "required"; readonly names: readonly string[] };

export const env = {
  /** Literal values. `{ secret: true }` redacts them. */
  static: (values: Readonly<Record<string, string>>, options: { secret?: boolean } = {}): EnvProvider =>
    Object.freeze({ kind: "static", values, ...options }),
  /** A dotenv file, relative to the repository root. Missing is an error unless `optional`. */
  file: (path: string, options: { optional?: boolean; secret?: boolean } = {}): EnvProvider =>
    Object.freeze({ kind: "file", path, ...options }),
  /** A sops-encrypted file (YAML, JSON or dotenv); every value is a secret. */
  sops: (path: string, options: { optional?: boolean } = {}): EnvProvider => Object.freeze({ kind: "sops", path, ...options }),
  /** Names that must be set (by the process env or an earlier provider) before any job runs. */
  required: (...names: string[]): EnvProvider => Object.freeze({ kind: "required", names }),
} as const;

// ---------------------------------------------------------------- matrix

export type MatrixValue = string | number | boolean;
/** Axes are arrays of values; `include` adds combinations, `exclude` removes those that match. */
export type MatrixDef = {
  readonly [axis: string]: readonly MatrixValue[] | ReadonlyArray<Readonly<Record<string, MatrixValue>>> | undefined;
};
type Axes<M> = Omit<M, "include" | "exclude">;
/** One combination of a matrix, typed from its axes. */
export type MatrixValues<M> = {
  readonly [K in keyof Axes<M>]: Axes<M>[K] extends readonly (infer V)[] ? V : never;
};

// ---------------------------------------------------------------- jobs

export interface ArtifactMap {
  readonly artifacts?: Readonly<Record<string, string>>;
}

/** `hashFiles("package-lock.json", "src/**\/*.ts")`: a cache key part, the SHA-256 of the matching repository files. */
export interface HashFiles {
  readonly kind: "hashFiles";
  readonly patterns: readonly string[];
}

/** Glob patterns relative to the repository root (`*`, `**`, `?`, `{a,b}`); a file matching none of them is left out. */
export function hashFiles(...patterns: string[]): HashFiles {
  return Object.freeze({ kind: "hashFiles", patterns: Object.freeze([...patterns]) });
}

export type CacheKeyPart = string | HashFiles;

/**
 * A keyed cache (dependencies, build caches): `paths` are restored before the
 * job's steps from the entry saved under `key` (its parts joined with "-"),
 * else from the newest entry whose key starts with one of `restoreKeys`, and
 * saved after a green job when `key` had no entry yet.
 */
export interface CacheDef {
  readonly key: CacheKeyPart | readonly CacheKeyPart[];
  /** Paths relative to the job directory. */
  readonly paths: readonly string[];
  /** Key prefixes to fall back to, tried in order. */
  readonly restoreKeys?: readonly string[];
}

export interface JobDef<N extends string = string, M extends MatrixDef = MatrixDef, I = AnyInputs> {
  readonly name?: string;
  readonly needs?: readonly N[];
  readonly if?: Condition;
  readonly matrix?: M;
  readonly executor?: ExecutorDef | ((args: { readonly matrix: MatrixValues<M> }) => ExecutorDef);
  readonly steps: readonly Step<I>[] | ((args: { readonly matrix: MatrixValues<M> }) => readonly Step<I>[]);
  readonly env?: Readonly<Record<string, string>>;
  /** Timeout for the whole job. */
  readonly timeout?: Duration;
  /** Output of the job's processes kept (default 100 MiB): past it output is counted, not kept. */
  readonly logLimit?: Size;
  /** Re-run the whole job (fresh setup) when it fails. */
  readonly retry?: RetryPolicy;
  readonly continueOnError?: boolean;
  readonly inputs?: ArtifactMap;
  readonly outputs?: ArtifactMap;
  /** Skip the job when a previous successful run had the same job hash, inputs and env. */
  readonly cache?: boolean;
  /** Keyed caches restored before the steps and saved after a green job. */
  readonly caches?: readonly CacheDef[];
  /** Agent labels this job needs (server mode). */
  readonly labels?: readonly string[];
  /**
   * For a matrix job: when one combination fails, the combinations not
   * started yet are skipped (GitHub's `strategy.fail-fast`). Default false:
   * a failure only skips what needs the failed job.
   */
  readonly failFast?: boolean;
}

export interface Job<N extends string = string, M extends MatrixDef = MatrixDef, I = AnyInputs> extends JobDef<N, M, I> {
  readonly kind: "job";
}

/**
 * Define a job. Literal `needs` and matrix values are kept so the workflow can check them.
 * `NoInfer` in the return type: `N` and `M` come from `def` only, never from the
 * `workflow({ jobs })` context (which would widen `N` to `string` and reject the job).
 * `I` comes from the steps' `ctx` annotations (`StepContext<Inputs>`); the
 * workflow checks it against its inputs schema.
 */
export function job<const N extends string = never, const M extends MatrixDef = Record<never, never>, I = AnyInputs>(
  def: JobDef<N, M, I>,
): Job<NoInfer<N>, NoInfer<M>, NoInfer<I>> {
  return Object.freeze({ ...def, kind: "job" });
}

// ---------------------------------------------------------------- workflow

/**
 * `on.push`: a push to a branch or a tag (webhook). Glob patterns (`*` stops at
 * `/`, `**` does not; a leading `!` excludes what earlier patterns matched;
 * the last matching pattern decides). With only `branches`, tag pushes do not
 * start the workflow, and the reverse; with neither, every push does. `paths`:
 * at least one changed file must match; `pathsIgnore`: not every changed file
 * may match; path filters do not apply to tag pushes. docs/triggers.md.
 */
export interface PushTrigger {
  readonly branches?: readonly string[];
  readonly tags?: readonly string[];
  readonly paths?: readonly string[];
  readonly pathsIgnore?: readonly string[];
}

/** `on.pullRequest`: a pull request opened, synchronized or reopened; `branches` match its BASE branch, `paths` its changed files. */
export interface PullRequestTrigger {
  readonly branches?: readonly string[];
  readonly paths?: readonly string[];
}

/** What starts a workflow besides the API and `gantry run`; a workflow without `on` is started by hand or the API only. */
export interface Triggers {
  readonly push?: PushTrigger;
  readonly pullRequest?: PullRequestTrigger;
  readonly cron?: string | readonly string[];
  readonly manual?: boolean;
}

export interface Defaults {
  /** Default timeout of each job. */
  readonly timeout?: Duration;
  /** Default log limit of each job (`JobDef.logLimit`). */
  readonly logLimit?: Size;
  /** Default retry policy of each step. */
  readonly retry?: RetryPolicy;
  /** Default executor of each job (default: `executors.local()`). */
  readonly executor?: ExecutorDef;
  readonly env?: Readonly<Record<string, string>>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyJob<I = AnyInputs> = Job<string, any, I>;

/** Every job's `needs` must name another job of the same workflow. */
type CheckNeeds<J> = { readonly [K in keyof J]: { readonly needs?: readonly Exclude<keyof J & string, K>[] } };

export interface WorkflowDef<J extends Record<string, AnyJob<I>> = Record<string, AnyJob>, I extends AnyInputs = AnyInputs> {
  readonly name: string;
  /**
   * Typed inputs of manual and API runs: a zod object schema
   * (`z.object({ target: z.enum(["staging", "production"]) })`). Validated
   * when a run is triggered (`gantry run --input k=v`, the API's `inputs`),
   * defaults applied; steps read them as `ctx.inputs` and, in shell steps,
   * as `GANTRY_INPUT_<NAME>`. Inputs are not secret.
   */
  readonly inputs?: InputSchema<I>;
  readonly on?: Triggers;
  readonly env?: readonly EnvProvider[];
  readonly defaults?: Defaults;
  /** Upper bound for the number of jobs one matrix may expand to (default 256). */
  readonly matrixLimit?: number;
  /**
   * After the first failure, skip every job not started yet (except
   * `always()`, `failure()` and `cancelled()` jobs). Default false: a failure
   * only skips what needs the failed job, and independent jobs run to the end.
   */
  readonly failFast?: boolean;
  readonly jobs: J;
}

export interface Workflow<
  J extends Record<string, AnyJob<I>> = Record<string, AnyJob>,
  I extends AnyInputs = AnyInputs,
> extends WorkflowDef<J, I> {
  readonly kind: "workflow";
}

export function workflow<const J extends Record<string, AnyJob<I>>, I extends AnyInputs = AnyInputs>(
  def: WorkflowDef<J, I> & { readonly jobs: CheckNeeds<J> },
): Workflow<J, I> {
  return Object.freeze({ ...def, kind: "workflow" });
}
