import { describe, expect, test } from "vitest";
import { nextDelay, type PlanRetry } from "gantry";
import { compileRetry, MAX_DELAY_MS, NO_RETRY } from "../../src/core/retry.js";
import { Issues } from "../../src/core/issues.js";

const policy = (p: Partial<PlanRetry>): PlanRetry => ({ attempts: 5, backoff: "constant", delayMs: 1000, maxDelayMs: 0, jitter: 0, ...p });

describe("nextDelay", () => {
  test.each([
    // backoff, delayMs, maxDelayMs, jitter, attempt, random, expected
    ["constant", 1000, 0, 0, 1, 0.5, 1000],
    ["constant", 1000, 0, 0, 4, 0.5, 1000],
    ["linear", 1000, 0, 0, 1, 0.5, 1000],
    ["linear", 1000, 0, 0, 3, 0.5, 3000],
    ["exponential", 1000, 0, 0, 1, 0.5, 1000],
    ["exponential", 1000, 0, 0, 2, 0.5, 2000],
    ["exponential", 1000, 0, 0, 5, 0.5, 16000],
    ["exponential", 1000, 5000, 0, 5, 0.5, 5000],
    ["linear", 1000, 2500, 0, 3, 0.5, 2500],
    ["constant", 1000, 0, 1, 1, 0, 1000],
    ["constant", 1000, 0, 1, 1, 0.25, 750],
    ["constant", 1000, 0, 0.5, 1, 0.5, 750],
    ["exponential", 1000, 4000, 1, 10, 0.5, 2000],
    ["exponential", 1000, 0, 0, 0, 0.5, 1000],
    ["constant", 0, 0, 1, 3, 0.9, 0],
  ] as const)(
    "%s delay=%d max=%d jitter=%d attempt=%d random=%d -> %d",
    (backoff, delayMs, maxDelayMs, jitter, attempt, random, expected) => {
      expect(nextDelay(policy({ backoff, delayMs, maxDelayMs, jitter }), attempt, () => random)).toBe(expected);
    },
  );

  test("stays finite and JSON-safe for huge attempts", () => {
    expect(nextDelay(policy({ backoff: "exponential" }), 5000, () => 0)).toBe(MAX_DELAY_MS);
    expect(nextDelay(policy({ backoff: "linear" }), Number.POSITIVE_INFINITY, () => 0)).toBe(1000);
  });
});

describe("compileRetry", () => {
  test.each([
    [undefined, NO_RETRY],
    [{ attempts: 3 }, { attempts: 3, backoff: "exponential", delayMs: 1000, maxDelayMs: 0, jitter: 0 }],
    [
      { attempts: 2, backoff: "constant", delay: "500ms", maxDelay: "1m", jitter: 0.2 },
      { attempts: 2, backoff: "constant", delayMs: 500, maxDelayMs: 60_000, jitter: 0.2 },
    ],
    [
      { attempts: 1, jitter: true },
      { attempts: 1, backoff: "exponential", delayMs: 1000, maxDelayMs: 0, jitter: 1 },
    ],
    [
      { attempts: 4, delay: "1m30s", jitter: false },
      { attempts: 4, backoff: "exponential", delayMs: 90_000, maxDelayMs: 0, jitter: 0 },
    ],
  ] as const)("%j", (input, expected) => {
    const issues = new Issues("f.ts");
    expect(compileRetry(input as never, "retry", issues)).toEqual(expected);
    expect(issues.list).toEqual([]);
  });

  test.each([
    [{ attempts: 0 }, "retry.attempts: retry attempts must be at least 1, got 0"],
    [{ attempts: 1.5 }, "retry.attempts: retry attempts must be a whole number, got 1.5"],
    [
      { attempts: 2, delay: "1 sec" },
      'retry.delay: invalid duration "1 sec" (use a number and a unit: ms, s, m, h or d, e.g. "30s", "15m", "1h30m")',
    ],
    [{ attempts: 2, jitter: -1 }, "retry.jitter: must be at least 0"],
    ["twice", 'retry: expected an object, got "twice"'],
  ])("%j is refused", (input, message) => {
    const issues = new Issues("f.ts");
    expect(compileRetry(input as never, "retry", issues)).toEqual(NO_RETRY);
    expect(issues.list.map((i) => `${i.path}: ${i.message}`)).toEqual([message]);
  });
});
