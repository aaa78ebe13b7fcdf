/**
 * Errors with a stable `code`. `instanceof` works across two copies of the
 * library because it checks a global brand, not the class identity.
 */
const BRAND = Symbol.for("gantry.error");

export type ErrorCode =
  | "PLAN_INVALID"
  | "LOAD_FAILED"
  | "USAGE"
  | "ENV_MISSING"
  | "ENV_INVALID"
  | "EXECUTOR_FAILED"
  | "ARTIFACT_INVALID"
  /** A stored blob whose content no longer matches its SHA-256 (modified or damaged on disk). */
  | "BLOB_CORRUPT"
  | "PATH_ESCAPE"
  | "CANCELLED"
  /** The state store cannot be opened or written: unreachable, corrupt, read-only, wrong password. */
  | "STORE_FAILED"
  /** The store's schema is newer than this Gantry. */
  | "STORE_SCHEMA"
  /** A worker's write for a job attempt that no longer holds its lease (fencing): stop the job. */
  | "LEASE_LOST"
  /** A queue entry, run or job that does not exist (or is not in a state that allows the change). */
  | "NOT_FOUND"
  | "INTERNAL";

export class GantryError extends Error {
  readonly code: ErrorCode;
  /** Whether trying again (a retry, another host) may help. */
  readonly retryable: boolean;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "GantryError";
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== GantryError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** One problem found while compiling a plan: the file, the path in the definition, and what is wrong. */
export interface PlanIssue {
  readonly file: string;
  readonly path: string;
  readonly message: string;
}

export function formatIssue(issue: PlanIssue): string {
  return `${issue.file}: ${issue.path ? `${issue.path}: ` : ""}${issue.message}`;
}

/** All problems of a workflow at once. */
export class PlanError extends GantryError {
  readonly issues: readonly PlanIssue[];
  constructor(issues: readonly PlanIssue[]) {
    super("PLAN_INVALID", issues.map(formatIssue).join("\n"));
    this.name = "PlanError";
    this.issues = issues;
  }
}

/** Turn anything thrown into an Error, so every catch can rely on `.message`. */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  if (typeof value === "string") return new Error(value);
  try {
    return new Error(JSON.stringify(value));
  } catch {
    return new Error(String(value));
  }
}
