import { describe, expect, it } from "vitest";
import { countByStatus, failedSteps, jobDuration, summarize } from "../../src/reporters/summary.js";
import { formatSummaryTable } from "../../src/reporters/format.js";
import { PLAN, T0, ev, scenario } from "./fixtures.js";

describe("summarize", () => {
  it("computes each job's final status, attempts and duration in plan order", () => {
    const run = summarize(scenario());
    expect(run.workflow).toBe("ci");
    expect(run.planHash).toBe(PLAN.hash);
    expect(run.status).toBe("failure");
    expect(run.durationMs).toBe(3050);
    expect([...run.jobs.values()].map((j) => [j.id, j.status, j.attempts, j.durationMs])).toEqual([
      ["build", "success", 1, 1130],
      ["test", "failure", 1, 1700],
      ["deploy", "skipped", 0, 0],
    ]);
    expect(countByStatus(run)).toEqual({ success: 1, failure: 1, skipped: 1 });
  });

  it("tracks steps, their retry limits from the plan and which failed", () => {
    const test = summarize(scenario()).jobs.get("test")!;
    expect(test.steps[0]).toMatchObject({ name: "npm test", status: "failure", attempts: 2, maxAttempts: 3, exitCode: 1 });
    expect(failedSteps(test).map((s) => s.name)).toEqual(["npm test"]);
    expect(failedSteps(summarize(scenario()).jobs.get("build")!)).toEqual([]);
  });

  it("reports a running job's elapsed time, its current step and a pending job retry", () => {
    const events = scenario().slice(0, 4);
    const build = summarize(events).jobs.get("build")!;
    expect(build.status).toBe("running");
    expect(build.currentStep).toBe(0);
    expect(jobDuration(build, T0 + 1130)).toBe(1000);
    expect(summarize(events).jobs.get("test")!.status).toBe("queued");
    expect(jobDuration(summarize(events).jobs.get("test")!, T0 + 5000)).toBeUndefined();

    const retried = summarize([...events, ev("job.retry", 500, { jobId: "build", attempt: 2, delayMs: 1000, reason: "exit code 1" })]);
    expect(retried.jobs.get("build")!.retryAt).toBe(T0 + 1500);
    const restarted = summarize([
      ...events,
      ev("job.retry", 500, { jobId: "build", attempt: 2, delayMs: 1000, reason: "exit code 1" }),
      ev("job.started", 1500, { jobId: "build", attempt: 2, executor: "local" }),
    ]).jobs.get("build")!;
    expect(restarted).toMatchObject({ attempts: 2, retryAt: undefined, startedAt: T0 + 130, attemptStartedAt: T0 + 1500 });
  });

  it("adds jobs the plan did not list, in first-seen order, and works without run.started", () => {
    const run = summarize([
      ev("job.started", 0, { jobId: "b", attempt: 1, executor: "x" }),
      ev("job.finished", 5, { jobId: "a", status: "cancelled", attempts: 0, durationMs: 0, outputs: {} }),
    ]);
    expect([...run.jobs.keys()]).toEqual(["b", "a"]);
    expect(run.status).toBe("running");
  });
});

describe("reused jobs", () => {
  it("are marked from run.started and shown as reused, without a duration", () => {
    const events = [
      ev("run.started", 0, { plan: PLAN, jobIds: ["test", "deploy"], reused: ["build"] }),
      ev("job.finished", 0, { jobId: "build", status: "success", attempts: 0, durationMs: 0, outputs: {}, reason: "reused from run r0" }),
      ev("job.started", 10, { jobId: "test", attempt: 1, executor: "local" }),
      ev("job.finished", 210, { jobId: "test", status: "success", attempts: 1, durationMs: 200, outputs: {} }),
      ev("job.finished", 220, { jobId: "deploy", status: "cached", attempts: 0, durationMs: 0, outputs: {} }),
      ev("run.finished", 230, { status: "success", durationMs: 230 }),
    ];
    const run = summarize(events);
    expect([...run.jobs.values()].map((j) => [j.id, j.status, j.reused])).toEqual([
      ["build", "success", true],
      ["test", "success", false],
      ["deploy", "cached", false],
    ]);
    expect(formatSummaryTable(run, T0 + 230, { symbols: false })).toEqual([
      "JOB     STATUS            ATTEMPTS  DURATION",
      "build   success (reused)  -         -",
      "test    success           1         200ms",
      "deploy  cached            -         0ms",
      "run success in 230ms: 2 succeeded, 1 cached (1 reused from an earlier run)",
    ]);
  });
});
