/**
 * Retry policies: `compileRetry` validates a `RetryPolicy` from the
 * definition into the plan's `PlanRetry`; `nextDelay` is the pure delay
 * function the engine calls between attempts.
 */
import type { RetryPolicy } from "./definition.js";
import { MAX_TIMER_MS, parseDuration } from "./duration.js";
import type { Issues } from "./issues.js";
import type { PlanRetry } from "./plan-types.js";
import { check, retrySchema } from "./schemas.js";

/** No retry: one attempt. */
export const NO_RETRY: PlanRetry = Object.freeze({ attempts: 1, backoff: "constant", delayMs: 0, maxDelayMs: 0, jitter: 0 });

/** Delay before the second attempt when a policy does not set one. */
export const DEFAULT_RETRY_DELAY_MS = 1000;

/** The largest delay `nextDelay` returns: the largest `setTimeout` delay (about 24.8 days). */
export const MAX_DELAY_MS = MAX_TIMER_MS;

/**
 * Validate and compile a retry policy. `undefined` gives `NO_RETRY`. On a
 * bad policy the problems are added to `issues` (under `path`) and
 * `NO_RETRY` is returned. Defaults: backoff `"exponential"`, delay `"1s"`,
 * no maximum delay (`maxDelayMs: 0`), no jitter. `jitter: true` is 1.
 */
export function compileRetry(policy: RetryPolicy | undefined, path: string, issues: Issues): PlanRetry {
  if (policy === undefined) return NO_RETRY;
  const parsed = check(retrySchema, policy, path, issues);
  if (!parsed) return NO_RETRY;
  const jitter = parsed.jitter === true ? 1 : parsed.jitter === false || parsed.jitter === undefined ? 0 : parsed.jitter;
  return {
    attempts: parsed.attempts,
    backoff: parsed.backoff ?? "exponential",
    delayMs: parsed.delay === undefined ? DEFAULT_RETRY_DELAY_MS : (parseDuration(parsed.delay) ?? DEFAULT_RETRY_DELAY_MS),
    maxDelayMs: parsed.maxDelay === undefined ? 0 : (parseDuration(parsed.maxDelay) ?? 0),
    jitter,
  };
}

/**
 * Milliseconds to wait after attempt `attempt` (counted from 1) failed,
 * before the next one:
 *
 * - constant: `delayMs`
 * - linear: `delayMs * attempt`
 * - exponential: `delayMs * 2^(attempt - 1)`
 *
 * then capped by `maxDelayMs` (`0` means no cap), then jittered downwards:
 * `d - jitter * d * random()` with `random()` in [0, 1). The result is a
 * whole number from 0 to `MAX_DELAY_MS`. Whether another attempt happens
 * at all (`attempt < attempts`) is the caller's decision.
 */
export function nextDelay(policy: PlanRetry, attempt: number, random: () => number): number {
  const n = Number.isFinite(attempt) ? Math.max(1, Math.floor(attempt)) : 1;
  const base = Math.max(0, policy.delayMs);
  let delay: number;
  switch (policy.backoff) {
    case "linear":
      delay = base * n;
      break;
    case "exponential":
      delay = base * 2 ** (n - 1);
      break;
    default:
      delay = base;
  }
  if (policy.maxDelayMs > 0) delay = Math.min(delay, policy.maxDelayMs);
  delay = Math.min(delay, MAX_DELAY_MS);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  if (jitter > 0) {
    const r = Math.min(1, Math.max(0, random()));
    delay -= jitter * delay * r;
  }
  return Math.max(0, Math.min(MAX_DELAY_MS, Math.round(delay)));
}
