/**
 * Durations past Node's one-timer limit (2^31 - 1 ms, about 24.8 days): a
 * `timeout: "25d"` used to fire after 1 ms (TimeoutOverflowWarning) and end
 * the job `timed_out` at once. The engine chains timers instead; options
 * handed to a library as one timer are capped with a plan error.
 */
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { executors, job, sh, workflow } from "gantry";
import { MAX_TIMER_MS, parseDuration } from "../../src/core/duration.js";
import { defaultSleep, isTimeoutReason, Scope, setLongTimeout } from "../../src/engine/signals.js";
import { issuesOf } from "../core/helpers.js";
import { makePlan, removeTempDirs, runFake, statuses } from "./helpers.js";

const DAY = 86_400_000;

afterAll(removeTempDirs);
afterEach(() => {
  vi.useRealTimers();
});

describe("long timers (fake clock)", () => {
  it("a 25-day scope timeout fires after 25 days, not at once", () => {
    vi.useFakeTimers();
    const scope = new Scope([], parseDuration("25d"), "job");
    vi.advanceTimersByTime(1);
    expect(scope.signal.aborted).toBe(false);
    vi.advanceTimersByTime(25 * DAY - 2);
    expect(scope.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(scope.signal.aborted).toBe(true);
    expect(isTimeoutReason(scope.signal.reason)).toBe(true);
    expect((scope.signal.reason as Error).message).toBe("job timed out after 600h0m");
  });

  it("chains timers of at most MAX_TIMER_MS each, and clear() stops the chain", () => {
    vi.useFakeTimers();
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms: number) => {
      delays.push(ms);
      return real(fn, ms);
    }) as typeof setTimeout);
    let fired = 0;
    const total = 2 * MAX_TIMER_MS + 5;
    setLongTimeout(() => fired++, total);
    vi.advanceTimersByTime(total - 1);
    expect(fired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(fired).toBe(1);
    expect(delays).toEqual([MAX_TIMER_MS, MAX_TIMER_MS, 5]);
    const cleared = setLongTimeout(() => fired++, total);
    vi.advanceTimersByTime(MAX_TIMER_MS + 1);
    cleared.clear();
    vi.advanceTimersByTime(total);
    expect(fired).toBe(1);
    spy.mockRestore();
  });

  it("a retry delay of 30 days sleeps 30 days", async () => {
    vi.useFakeTimers();
    let done = false;
    const sleeping = defaultSleep(30 * DAY, new AbortController().signal).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(29 * DAY);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(DAY);
    await sleeping;
    expect(done).toBe(true);
  });
});

describe("long timeouts in a run", () => {
  it('job and step timeouts of "25d" let a step that takes a moment succeed', async () => {
    const plan = makePlan({ slow: { timeoutMs: 25 * DAY, steps: [{ run: "sleep 20\necho done", timeoutMs: 30 * DAY }] } });
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toEqual({ slow: "success" });
  });
});

describe("options handed to a library as one timer", () => {
  it("an SSH connectTimeout or keepalive past 24 days is a plan error naming the maximum", () => {
    const wf = workflow({
      name: "ci",
      jobs: {
        a: job({
          executor: executors.ssh({ host: "h", connectTimeout: "25d", keepalive: "24d" }),
          steps: [sh`true`],
        }),
      },
    });
    expect(issuesOf(wf)).toEqual(['jobs.a.executor.options.connectTimeout: must be at most "24d" (the longest a single timer can wait)']);
  });
});
