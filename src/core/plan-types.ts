/**
 * The plan: the immutable, JSON-serialisable result of compiling a workflow.
 * Functions (TypeScript steps, predicates, executor factories) are not in it;
 * they live in the bundle and are found again by `ref`, the path in the
 * definition (`jobs.report.steps[0]`). Hashes are hex SHA-256 of canonical
 * JSON, so the same inputs give the same hashes on every machine.
 */
import type { Backoff, MatrixValue, StatusConditionName, Triggers } from "./definition.js";

export const PLAN_VERSION = 1;

export interface PlanRetry {
  readonly attempts: number;
  readonly backoff: Backoff;
  readonly delayMs: number;
  readonly maxDelayMs: number;
  /** 0 = none, 1 = full jitter. */
  readonly jitter: number;
}

export type PlanCondition =
  | { readonly kind: "status"; readonly status: StatusConditionName }
  | { readonly kind: "sh"; readonly run: string }
  /** A predicate function; `source` is its text, kept for hashing and display. */
  | { readonly kind: "fn"; readonly ref: string; readonly source: string };

export interface PlanStep {
  readonly index: number;
  readonly name: string;
  readonly kind: "sh" | "fn" | "uses";
  /** Path in the definition, used to find functions in the bundle. */
  readonly ref: string;
  /** Shell script for `sh` steps. */
  readonly run?: string;
  /** Image for a `sh` step run in another container. */
  readonly container?: string;
  /** For `fn` steps: the function's source, for hashing and display. */
  readonly source?: string;
  /** For `uses` steps: the action and its validated inputs. */
  readonly action?: { readonly name: string; readonly version?: string; readonly inputs: unknown };
  readonly if?: PlanCondition;
  readonly retry: PlanRetry;
  readonly timeoutMs?: number;
  readonly continueOnError: boolean;
  readonly env: Readonly<Record<string, string>>;
  readonly workdir?: string;
  readonly hash: string;
}

export interface PlanArtifactInput {
  readonly name: string;
  /** Where to restore it, relative to the job directory. */
  readonly path: string;
  /** Job ids that produce it (a matrix job produces it once per combination: the first that succeeded wins). */
  readonly from: readonly string[];
}

export interface PlanJob {
  /** Unique id: the job key, plus the matrix combination, e.g. `test (node=20, os=bookworm)`. */
  readonly id: string;
  /** The key in `jobs`. */
  readonly key: string;
  readonly name: string;
  readonly matrix: Readonly<Record<string, MatrixValue>>;
  /** Ids of the jobs this job waits for. */
  readonly needs: readonly string[];
  readonly if: PlanCondition;
  /** Name of an entry in `plan.executors`. */
  readonly executor: string;
  readonly steps: readonly PlanStep[];
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  /** Bytes of process output kept for the job (`logLimit`); absent: the run's default. */
  readonly logLimitBytes?: number;
  readonly retry: PlanRetry;
  readonly continueOnError: boolean;
  readonly inputs: { readonly artifacts: readonly PlanArtifactInput[] };
  readonly outputs: { readonly artifacts: ReadonlyArray<{ readonly name: string; readonly path: string }> };
  readonly cache: boolean;
  readonly caches: readonly PlanCache[];
  readonly labels: readonly string[];
  /** Matrix fail-fast: a failed combination skips the combinations of the same key not started yet. */
  readonly failFast?: true;
  readonly hash: string;
}

/** A part of a cache key: a literal, or the hash of repository files matching globs. */
export type PlanCacheKeyPart = { readonly text: string } | { readonly hashFiles: readonly string[] };

export interface PlanCache {
  readonly key: readonly PlanCacheKeyPart[];
  /** Normalised paths relative to the job directory. */
  readonly paths: readonly string[];
  readonly restoreKeys: readonly string[];
}

export interface PlanExecutor {
  readonly name: string;
  /** A kind registered by an `ExecutorDescriptor` (`local`, `container`, `ssh`, ...). */
  readonly kind: string;
  /** The options as the kind's schema parsed them. */
  readonly options: Readonly<Record<string, unknown>>;
  /** `hashValue({ kind, options })`. */
  readonly hash: string;
  /**
   * Declared by the kind: jobs get a copy of the repository (its files are
   * then inputs of `cache: true` jobs). The compiler always sets it; absent
   * (a hand-made plan) means true.
   */
  readonly copiesRepo?: boolean;
}

export type PlanEnvProvider =
  | {
      readonly kind: "static";
      readonly keys: readonly string[];
      readonly values: Readonly<Record<string, string>>;
      readonly secret: boolean;
    }
  | { readonly kind: "file"; readonly path: string; readonly optional: boolean; readonly secret: boolean }
  | { readonly kind: "sops"; readonly path: string; readonly optional: boolean }
  | { readonly kind: "required"; readonly names: readonly string[] };

export interface Plan {
  readonly version: typeof PLAN_VERSION;
  readonly workflow: {
    readonly name: string;
    /** The workflow file, relative to the repository root. */
    readonly file: string;
    readonly triggers: Triggers;
    /** The first failure skips every job not started yet (see `core/schedule.ts`). */
    readonly failFast?: true;
    /** The JSON schema of the workflow's typed inputs (`workflow({ inputs })`), when it declares them. */
    readonly inputs?: Readonly<Record<string, unknown>>;
  };
  /**
   * The run's inputs, parsed by the workflow's schema (defaults applied),
   * when the plan was compiled for a run of a workflow that declares inputs.
   * They are also every job's `GANTRY_INPUT_<NAME>` env, so they are part of
   * the job hashes and cache keys.
   */
  readonly inputs?: Readonly<Record<string, unknown>>;
  /** Hash of the bundle that holds the workflow's code. */
  readonly bundle: string;
  readonly env: readonly PlanEnvProvider[];
  readonly executors: Readonly<Record<string, PlanExecutor>>;
  /** Jobs in a topological order (stable). */
  readonly jobs: readonly PlanJob[];
  readonly hash: string;
}
