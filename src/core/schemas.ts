/**
 * Strict zod schemas for everything a workflow definition may contain, and
 * `check`, which validates one value and adds readable issues (with their
 * definition paths) to the compilation's issue list. Unknown options are
 * rejected by name, with a suggestion when one is close.
 */
import { z } from "zod";
import { parseDuration } from "./duration.js";
import { describe, joinPaths, type Issues } from "./issues.js";
import { parseSize } from "./size.js";
import { didYouMean } from "./suggest.js";

// ---------------------------------------------------------------- building blocks

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ARTIFACT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const fn = z.custom<(...args: never[]) => unknown>((v) => typeof v === "function", {
  error: (iss) => `expected a function, got ${describe(iss.input)}`,
});

export const durationSchema = z.custom<string>((v) => parseDuration(v) !== undefined, {
  error: (iss) => `invalid duration ${describe(iss.input)} (use a number and a unit: ms, s, m, h or d, e.g. "30s", "15m", "1h30m")`,
});

/** A duration that must be longer than zero (timeouts). */
export const positiveDurationSchema = durationSchema.refine((v) => (parseDuration(v) ?? 0) > 0, { error: "must be longer than 0" });

/** A size in bytes: a number, or a string with a unit ("100MiB", "1GiB", "500KB"). */
export const sizeSchema = z.custom<number | string>((v) => parseSize(v) !== undefined, {
  error: (iss) => `invalid size ${describe(iss.input)} (use bytes or a number and a unit: B, KiB, MiB, GiB, KB, MB or GB, e.g. "100MiB")`,
});

/**
 * The longest duration accepted for options handed to a library as one timer
 * (the SSH connect timeout and keepalive): Node cannot wait longer than about
 * 24.8 days with one timer. The engine's own timeouts and retry delays have
 * no such limit (chained timers).
 */
export const MAX_LIBRARY_TIMER = "24d";
const withinOneTimer = <S extends z.ZodType<string>>(schema: S) =>
  schema.refine((v) => (parseDuration(v) ?? 0) <= (parseDuration(MAX_LIBRARY_TIMER) ?? 0), {
    error: `must be at most "${MAX_LIBRARY_TIMER}" (the longest a single timer can wait)`,
  });
/** A duration a library waits with one timer: at most {@link MAX_LIBRARY_TIMER}. */
export const timerDurationSchema = withinOneTimer(durationSchema);
/** Like `timerDurationSchema`, and longer than zero. */
export const positiveTimerDurationSchema = withinOneTimer(positiveDurationSchema);

export const envNameSchema = z.string().regex(ENV_NAME, { error: (iss) => `invalid environment variable name ${describe(iss.input)}` });
export const envRecordSchema = z.record(envNameSchema, z.string());
const artifactNameSchema = z.string().regex(ARTIFACT_NAME, {
  error: (iss) => `invalid artifact name ${describe(iss.input)} (letters, digits, ".", "_" and "-")`,
});
export const nonEmpty = z.string().min(1, { error: "must not be empty" });
/** Glob patterns of a trigger filter (`!` excludes). */
const globList = z.array(
  nonEmpty.refine((p) => p !== "!", { error: 'a lone "!" is not a pattern' }),
  {
    error: (iss) => `expected a list of glob patterns, got ${describe(iss.input)}`,
  },
);

// ---------------------------------------------------------------- retry, triggers, env providers

export const retrySchema = z.strictObject({
  attempts: z
    .number()
    .int({ error: (iss) => `retry attempts must be a whole number, got ${describe(iss.input)}` })
    .min(1, { error: (iss) => `retry attempts must be at least 1, got ${describe(iss.input)}` })
    .max(1000, { error: "retry attempts must be at most 1000" }),
  backoff: z.enum(["constant", "linear", "exponential"]).optional(),
  delay: durationSchema.optional(),
  maxDelay: durationSchema.optional(),
  jitter: z.union([z.boolean(), z.number().min(0).max(1)], { error: "jitter must be true, false or a number from 0 to 1" }).optional(),
});

export const triggersSchema = z.strictObject({
  push: z
    .strictObject({
      branches: globList.optional(),
      tags: globList.optional(),
      paths: globList.optional(),
      pathsIgnore: globList.optional(),
    })
    .optional(),
  pullRequest: z.strictObject({ branches: globList.optional(), paths: globList.optional() }).optional(),
  cron: z.union([z.string(), z.array(z.string())], { error: "cron must be a string or an array of strings" }).optional(),
  manual: z.boolean().optional(),
});

export const envProviderSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("static"), values: envRecordSchema, secret: z.boolean().optional() }),
    z.strictObject({ kind: z.literal("file"), path: nonEmpty, optional: z.boolean().optional(), secret: z.boolean().optional() }),
    z.strictObject({ kind: z.literal("sops"), path: nonEmpty, optional: z.boolean().optional() }),
    z.strictObject({ kind: z.literal("required"), names: z.array(envNameSchema) }),
  ],
  {
    error: (iss) =>
      iss.code === "invalid_union" ? "not an env provider: use env.static(), env.file(), env.sops() or env.required()" : undefined,
  },
);

// ---------------------------------------------------------------- executors

/** `{ kind, options }`; the options are checked by the registered kind's own schema (`ExecutorDescriptor`). */
export const executorDefSchema = z.strictObject({
  kind: z.string({ error: (iss) => `executor kind must be a string, got ${describe(iss.input)}` }),
  options: z.record(z.string(), z.unknown(), { error: (iss) => `executor options must be an object, got ${describe(iss.input)}` }),
});

// ---------------------------------------------------------------- workflow, jobs, steps

export const workflowSchema = z.strictObject({
  kind: z.literal("workflow").optional(),
  name: nonEmpty,
  on: z.unknown().optional(),
  env: z.array(z.unknown()).optional(),
  defaults: z.unknown().optional(),
  matrixLimit: z.number().int().min(1, { error: "matrixLimit must be at least 1" }).optional(),
  failFast: z.boolean().optional(),
  inputs: z.unknown().optional(),
  jobs: z.record(z.string().min(1, { error: "a job key must not be empty" }), z.unknown()),
});

export const defaultsSchema = z.strictObject({
  timeout: positiveDurationSchema.optional(),
  logLimit: sizeSchema.optional(),
  retry: z.unknown().optional(),
  executor: z.unknown().optional(),
  env: envRecordSchema.optional(),
});

const artifactMapSchema = z.strictObject({ artifacts: z.record(artifactNameSchema, z.string()).optional() });

const cacheKeyPartSchema = z.union([
  nonEmpty,
  z.strictObject({ kind: z.literal("hashFiles"), patterns: z.array(nonEmpty).min(1, { error: "hashFiles() needs at least one pattern" }) }),
]);

export const cacheSchema = z.strictObject({
  key: z.union([cacheKeyPartSchema, z.array(cacheKeyPartSchema).min(1, { error: "a cache key needs at least one part" })]),
  paths: z.array(nonEmpty).min(1, { error: "a cache needs at least one path" }),
  restoreKeys: z.array(nonEmpty).optional(),
});

export const jobSchema = z.strictObject({
  kind: z.literal("job").optional(),
  name: nonEmpty.optional(),
  needs: z.array(z.string()).optional(),
  if: z.unknown().optional(),
  matrix: z.unknown().optional(),
  executor: z.unknown().optional(),
  steps: z.custom<unknown>((v) => v !== undefined, {
    error: "a job needs steps (an array of steps, or a function of the matrix returning one)",
  }),
  env: envRecordSchema.optional(),
  timeout: positiveDurationSchema.optional(),
  logLimit: sizeSchema.optional(),
  retry: z.unknown().optional(),
  continueOnError: z.boolean().optional(),
  inputs: artifactMapSchema.optional(),
  outputs: artifactMapSchema.optional(),
  cache: z.boolean().optional(),
  caches: z.array(cacheSchema).optional(),
  labels: z.array(nonEmpty).optional(),
  failFast: z.boolean().optional(),
});

const stepOptions = {
  name: nonEmpty.optional(),
  if: z.unknown().optional(),
  retry: z.unknown().optional(),
  timeout: positiveDurationSchema.optional(),
  continueOnError: z.boolean().optional(),
  env: envRecordSchema.optional(),
  workdir: z.string().optional(),
};

/** The command of a `sh` step: a string (or a template, already a string here) that is not blank. */
const scriptSchema = z
  .custom<string>((v) => typeof v === "string", {
    error: (iss) =>
      `a sh step's command must be a string or a tagged template (sh\`...\`), got ${describe(iss.input)}; for several words write sh\`echo \${words}\``,
  })
  .refine((v) => v.trim() !== "", { error: "the script is empty: a sh step must run something" });

export const shStepSchema = z.strictObject({ ...stepOptions, kind: z.literal("sh"), run: scriptSchema, container: nonEmpty.optional() });
export const fnStepSchema = z.strictObject({ ...stepOptions, kind: z.literal("fn"), fn });
const actionSchema = z.looseObject({
  kind: z.literal("action", { error: "not an action: use defineAction()" }),
  name: nonEmpty,
  version: z.string().optional(),
  inputs: z.looseObject({ safeParse: fn }),
  run: fn,
});
export const usesStepSchema = z.strictObject({ ...stepOptions, kind: z.literal("uses"), action: actionSchema, inputs: z.unknown() });

export const statusConditionSchema = z.strictObject({
  kind: z.literal("status"),
  status: z.enum(["success", "failure", "always", "cancelled"]),
});

// ---------------------------------------------------------------- checking

type RawIssue = z.core.$ZodRawIssue;

function article(expected: string): string {
  const names: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    object: "an object",
    array: "an array",
    record: "an object",
    function: "a function",
  };
  return names[expected] ?? expected;
}

/** Messages for the issues the schemas above do not word themselves. */
export function errorMap(iss: RawIssue): string | undefined {
  if (iss.input === undefined && (iss.code === "invalid_type" || iss.code === "invalid_union")) return "required, but missing";
  switch (iss.code) {
    case "invalid_type":
      return `expected ${article(iss.expected)}, got ${describe(iss.input)}`;
    case "unrecognized_keys": {
      const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape ?? {};
      const known = Object.keys(shape);
      return iss.keys.map((key) => `unknown option ${JSON.stringify(key)}${didYouMean(key, known)}`).join("; ");
    }
    case "invalid_value":
      return `expected ${iss.values
        .map((v) => JSON.stringify(v))
        .join(", ")
        .replace(/, ([^,]*)$/, " or $1")}, got ${describe(iss.input)}`;
    case "too_small":
      return iss.origin === "string"
        ? "must not be empty"
        : iss.origin === "array"
          ? `must have at least ${iss.minimum} entries`
          : `must be at least ${iss.minimum}`;
    case "too_big":
      return `must be at most ${iss.maximum}`;
    default:
      return undefined;
  }
}

/**
 * Validate `value` against `schema`; on failure add one issue per problem
 * (path `base` + the problem's own path) and return `undefined`.
 */
export function check<S extends z.ZodType>(schema: S, value: unknown, base: string, issues: Issues): z.output<S> | undefined {
  const result = schema.safeParse(value, { error: errorMap });
  if (result.success) return result.data;
  for (const issue of flatten(result.error.issues)) issues.add(joinPaths(base, issue.path), issue.message);
  return undefined;
}

/** Record-key issues carry their real problem inside; bring it out. */
function flatten(list: readonly z.core.$ZodIssue[]): Array<{ path: PropertyKey[]; message: string }> {
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  for (const issue of list) {
    if (issue.code === "invalid_key" && issue.issues.length > 0) {
      for (const inner of issue.issues) out.push({ path: issue.path, message: inner.message });
    } else out.push({ path: issue.path, message: issue.message });
  }
  return out;
}
