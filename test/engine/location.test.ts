/**
 * `Executor.jobLocation`: asked after every attempt's `setupJob` (also a
 * failed one), emitted as `job.location` and logged as "running on X";
 * executors without it emit nothing.
 */
import { afterAll, describe, expect, it } from "vitest";
import { GantryError } from "../../src/core/errors.js";
import type { Executor } from "../../src/core/executor.js";
import { fakeExecutors } from "../../src/executors/fake.js";
import { eventsOf, logLines, makePlan, removeTempDirs, runFake, statuses } from "./helpers.js";

afterAll(removeTempDirs);

/** The fake executor, plus a location per attempt; attempt 1 fails (in setup or in its step). */
function located(inner: Executor, failIn: "setup" | "step"): Executor {
  return {
    name: inner.name,
    setupWorkspace: (ws) => inner.setupWorkspace(ws),
    cleanupWorkspace: (ws) => inner.cleanupWorkspace(ws),
    setupJob: async (job) => {
      await inner.setupJob(job);
      if (failIn === "setup" && job.attempt === 1) throw new GantryError("EXECUTOR_FAILED", "host-1 went away", { retryable: true });
    },
    exec: async (job, req, io) =>
      failIn === "step" && job.attempt === 1 ? { exitCode: 1, signal: null, timedOut: false, cancelled: false } : inner.exec(job, req, io),
    readFiles: (job, path) => inner.readFiles(job, path),
    writeFiles: (job, path, tar) => inner.writeFiles(job, path, tar),
    cleanupJob: (job) => inner.cleanupJob(job),
    jobLocation: (job) => `host-${job.attempt}`,
  };
}

describe("job location", () => {
  for (const failIn of ["step", "setup"] as const) {
    it(`is reported for each attempt, after setupJob (first attempt failing in its ${failIn})`, async () => {
      const fakes = fakeExecutors();
      const plan = makePlan({ a: { retry: { attempts: 2 } } });
      const h = await runFake(plan, { executorFor: (def) => located(fakes.executorFor(def), failIn) });
      expect(fakes.violations()).toEqual([]);
      expect(statuses(h.result)).toEqual({ a: "success" });
      expect(eventsOf(h.events, "job.location").map((e) => [e.jobId, e.attempt, e.location])).toEqual([
        ["a", 1, "host-1"],
        ["a", 2, "host-2"],
      ]);
      const kinds = h.events
        .filter((e) => e.type === "job.started" || e.type === "job.location" || e.type === "step.started")
        .map((e) => e.type);
      expect(kinds).toEqual(
        failIn === "step"
          ? ["job.started", "job.location", "step.started", "job.started", "job.location", "step.started"]
          : ["job.started", "job.location", "job.started", "job.location", "step.started"],
      );
      expect(logLines(h.events, "a").filter((l) => l.startsWith("running on "))).toEqual(["running on host-1", "running on host-2"]);
    });
  }

  it("is not reported by executors that do not implement it", async () => {
    const h = await runFake(makePlan({ a: {} }));
    expect(eventsOf(h.events, "job.location")).toEqual([]);
    expect(logLines(h.events, "a").some((l) => l.startsWith("running on "))).toBe(false);
  });
});
