/**
 * Plans may hold secrets: a value interpolated into a `sh` template at
 * definition time (`` sh`deploy --token ${process.env.TOKEN}` ``) is in the
 * step's script and, through the default name, in the step's name. The plan
 * that is written anywhere (`plan.json`, the `run.started` event and so the
 * stores, `events.jsonl`, JSON output) is this masked copy; the engine runs
 * the real one.
 */
import type { Plan } from "../core/plan-types.js";
import type { Redactor } from "./redact.js";

/** A copy of `plan` with every string redacted (content hashes kept as they are). */
export function redactPlan(plan: Plan, redactor: Redactor): Plan {
  if (redactor.empty) return plan;
  const visit = (value: unknown, key: string): unknown => {
    if (typeof value === "string") return key === "hash" ? value : redactor.redact(value);
    if (Array.isArray(value)) return value.map((v) => visit(v, ""));
    if (typeof value === "object" && value !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[redactor.redact(k)] = visit(v, k);
      return out;
    }
    return value;
  };
  return visit(plan, "") as Plan;
}
