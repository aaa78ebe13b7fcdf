/**
 * Compiling executor definitions into `plan.executors` entries, named and
 * hashed, and checking that one name always means the same executor. The
 * options of each kind are validated by the schema its descriptor registers
 * (`CompileOptions.executors`); a kind nobody registered is refused here, at
 * plan time, so `gantry validate` never says "ok" for a kind that cannot run.
 */
import type { ExecutorKinds } from "./executor-kind.js";
import { hashValue } from "./hash.js";
import { joinPath, type Issues } from "./issues.js";
import type { PlanExecutor } from "./plan-types.js";
import { check, executorDefSchema } from "./schemas.js";

/** `plan.executors` being built from the definitions met while compiling, with where each name was first defined. */
export class PlanExecutorCollector {
  readonly entries: Record<string, PlanExecutor> = {};
  private readonly firstPath = new Map<string, string>();

  constructor(private readonly kinds: ExecutorKinds) {}

  /** Validate `def` (an `ExecutorDef`) and collect it; returns its name, or `undefined` after adding issues. */
  add(def: unknown, path: string, issues: Issues): string | undefined {
    const parsed = check(executorDefSchema, def, path, issues);
    if (!parsed) return undefined;
    const descriptor = this.kinds.get(parsed.kind);
    if (!descriptor) {
      const known = [...this.kinds.keys()].map((k) => `executors.${k}()`).join(", ");
      issues.add(
        joinPath(path, "kind"),
        `executor kind ${JSON.stringify(parsed.kind)} is not available in this Gantry; use one of ${known || "(none registered)"}`,
      );
      return undefined;
    }
    const options = check(descriptor.optionsSchema, parsed.options, joinPath(path, "options"), issues) as
      Record<string, unknown> | undefined;
    if (!options) return undefined;
    const hash = hashValue({ kind: parsed.kind, options });
    const name =
      typeof options.name === "string" && options.name.length > 0
        ? options.name
        : (descriptor.defaultName?.(hash) ?? `${parsed.kind}-${hash.slice(0, 8)}`);
    const existing = this.entries[name];
    if (existing && existing.hash !== hash) {
      issues.add(
        path,
        `executor ${JSON.stringify(name)} is defined twice with different options (first at ${this.firstPath.get(name) ?? "?"}); give one of them another name`,
      );
      return undefined;
    }
    if (!existing) {
      this.entries[name] = { name, kind: parsed.kind, options, hash, copiesRepo: descriptor.copiesRepo(options) };
      this.firstPath.set(name, path);
    }
    return name;
  }
}
