/**
 * Compiling executor definitions into `plan.executors` entries, named and
 * hashed, and checking that one name always means the same executor.
 */
import { hashValue } from "./hash.js";
import { joinPath, type Issues } from "./issues.js";
import type { PlanExecutor } from "./plan-types.js";
import { check, executorDefSchema, executorOptionSchemas } from "./schemas.js";

/** `plan.executors` being built, with where each name was first defined. */
export class ExecutorRegistry {
  readonly entries: Record<string, PlanExecutor> = {};
  private readonly firstPath = new Map<string, string>();

  /** Validate `def` (an `ExecutorDef`) and register it; returns its name, or `undefined` after adding issues. */
  add(def: unknown, path: string, issues: Issues): string | undefined {
    const parsed = check(executorDefSchema, def, path, issues);
    if (!parsed) return undefined;
    const options = check(executorOptionSchemas[parsed.kind], parsed.options, joinPath(path, "options"), issues) as
      Record<string, unknown> | undefined;
    if (!options) return undefined;
    const hash = hashValue({ kind: parsed.kind, options });
    const name = executorName(parsed.kind, options, hash);
    const existing = this.entries[name];
    if (existing && existing.hash !== hash) {
      issues.add(
        path,
        `executor ${JSON.stringify(name)} is defined twice with different options (first at ${this.firstPath.get(name) ?? "?"}); give one of them another name`,
      );
      return undefined;
    }
    if (!existing) {
      this.entries[name] = { name, kind: parsed.kind, options, hash };
      this.firstPath.set(name, path);
    }
    return name;
  }
}

const PREFIX = { local: "local", container: "container", ssh: "ssh", kubernetes: "k8s" } as const;

/**
 * The deduplication name of an executor: `options.name`, else `local` for
 * the local executor, else `<kind>-<first 8 hex of its hash>` (`k8s-` for
 * Kubernetes), where the hash is `hashValue({ kind, options })`.
 */
export function executorName(kind: keyof typeof PREFIX, options: Readonly<Record<string, unknown>>, hash: string): string {
  if (typeof options.name === "string" && options.name.length > 0) return options.name;
  return kind === "local" ? "local" : `${PREFIX[kind]}-${hash.slice(0, 8)}`;
}
