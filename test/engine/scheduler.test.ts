import { afterAll, describe, expect, it } from "vitest";
import { BlobDir } from "../../src/store/blobs.js";
import { EventBus, type GantryEvent } from "../../src/core/events.js";
import { GantryError } from "../../src/core/errors.js";
import { runPlan } from "../../src/engine/run.js";
import { fakeExecutors } from "../../src/executors/fake.js";
import { eventsOf, logLines, makePlan, removeTempDirs, runFake, status, statuses, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

/** The largest number of jobs between job.started and job.finished at once. */
function maxParallel(events: readonly GantryEvent[]): number {
  let running = 0;
  let max = 0;
  const attempts = new Map<string, number>();
  for (const e of events) {
    if (e.type === "job.started" && !attempts.has(e.jobId)) {
      attempts.set(e.jobId, 1);
      running++;
      max = Math.max(max, running);
    } else if (e.type === "job.finished" && attempts.has(e.jobId)) {
      running--;
    }
  }
  return max;
}

function order(events: readonly GantryEvent[], type: "job.started" | "job.finished"): string[] {
  return eventsOf(events, type).map((e) => e.jobId);
}

describe("scheduling", () => {
  it("starts a job only after all its needs finished", async () => {
    const plan = makePlan({
      a: { steps: ["sleep 5"] },
      b: { needs: ["a"], steps: ["sleep 10"] },
      c: { needs: ["a"], steps: ["sleep 1"] },
      d: { needs: ["b", "c"] },
    });
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(h.result.status).toBe("success");
    const pos = (type: "job.started" | "job.finished", id: string): number =>
      h.events.findIndex((e) => e.type === type && "jobId" in e && e.jobId === id);
    expect(pos("job.started", "b")).toBeGreaterThan(pos("job.finished", "a"));
    expect(pos("job.started", "c")).toBeGreaterThan(pos("job.finished", "a"));
    expect(pos("job.started", "d")).toBeGreaterThan(pos("job.finished", "b"));
    expect(pos("job.started", "d")).toBeGreaterThan(pos("job.finished", "c"));
    expect(h.events[0]?.type).toBe("run.started");
    expect(h.events.at(-1)?.type).toBe("run.finished");
  });

  it("runs at most `concurrency` jobs at once, and uses all of it", async () => {
    const jobs = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`j${i}`, { steps: ["sleep 15"] }]));
    const h = await runFake(makePlan(jobs), { concurrency: 2 });
    expect(h.violations).toEqual([]);
    expect(maxParallel(h.events)).toBe(2);
    expect(h.fakes.get("local")?.maxActiveJobs).toBe(2);
    expect(order(h.events, "job.started")).toEqual(["j0", "j1", "j2", "j3", "j4", "j5", "j6"]);
  });

  it("runs independent jobs in parallel up to the limit", async () => {
    const jobs = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`j${i}`, { steps: ["sleep 20"] }]));
    const h = await runFake(makePlan(jobs), { concurrency: 6 });
    expect(maxParallel(h.events)).toBe(6);
  });

  it("orders events of a job: started, step events, finished", async () => {
    const h = await runFake(makePlan({ a: { steps: ["echo one", "echo two"] } }));
    const types = h.events.filter((e) => "jobId" in e && e.jobId === "a").map((e) => e.type);
    expect(types).toEqual(["job.started", "step.started", "log", "step.finished", "step.started", "log", "step.finished", "job.finished"]);
    expect(eventsOf(h.events, "executor.setup")).toHaveLength(1);
    expect(eventsOf(h.events, "executor.cleanup")).toHaveLength(1);
  });
});

describe("failures", () => {
  const plan = makePlan({
    bad: { steps: ["sleep 5", "exit 3"] },
    slow: { steps: ["sleep 40"] },
    after: { needs: ["slow"] },
    dependant: { needs: ["bad"] },
    report: { needs: ["bad"], if: status("always") },
    notify: { needs: ["dependant"], if: status("failure") },
  });

  it("fail-fast: skips jobs not started yet, except always() and failure() ones", async () => {
    const h = await runFake(plan, { concurrency: 2, failFast: true });
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toEqual({
      bad: "failure",
      slow: "success",
      after: "skipped",
      dependant: "skipped",
      report: "success",
      notify: "success",
    });
    expect(h.result.status).toBe("failure");
    expect(h.result.jobs.dependant?.reason).toBe('needs "bad", which failed');
    expect(h.result.jobs.after?.reason).toContain("fail-fast");
    expect(h.result.jobs.bad?.reason).toBe('step "exit 3" failed: exit code 3');
  });

  it("without fail-fast, unrelated jobs go on", async () => {
    const h = await runFake(plan, { concurrency: 2, failFast: false });
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toMatchObject({
      bad: "failure",
      slow: "success",
      after: "success",
      dependant: "skipped",
      report: "success",
    });
    // failure() looks at every ancestor: dependant was skipped because bad failed
    expect(h.result.jobs.notify?.status).toBe("success");
  });

  it("a failure() job is skipped when nothing failed", async () => {
    const h = await runFake(makePlan({ a: {}, onFail: { needs: ["a"], if: status("failure") } }));
    expect(statuses(h.result)).toEqual({ a: "success", onFail: "skipped" });
    expect(h.result.status).toBe("success");
  });

  it("a job whose need was skipped is skipped too, naming that need", async () => {
    const h = await runFake(makePlan({ a: { steps: ["exit 1"] }, b: { needs: ["a"] }, c: { needs: ["b"] } }), { failFast: false });
    expect(statuses(h.result)).toEqual({ a: "failure", b: "skipped", c: "skipped" });
    expect(h.result.jobs.c?.reason).toBe('needs "b", which was skipped');
    const finished = eventsOf(h.events, "job.finished").find((e) => e.jobId === "c");
    expect(finished?.attempts).toBe(0);
    expect(eventsOf(h.events, "job.started").map((e) => e.jobId)).toEqual(["a"]);
  });
});

describe("cancellation", () => {
  it("stops running jobs, skips the rest, still runs always() and cancelled() jobs", async () => {
    const controller = new AbortController();
    const plan = makePlan({
      long: { steps: ["echo READY\nhang"] },
      other: { steps: ["hang"] },
      after: { needs: ["long"] },
      onCancel: { needs: ["long"], if: status("cancelled") },
      finally: { needs: ["long"], if: status("always") },
      onFailure: { needs: ["long"], if: status("failure") },
    });
    const h = await runFake(plan, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "log" && e.lines.includes("READY")) controller.abort();
      },
    });
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toEqual({
      long: "cancelled",
      other: "cancelled",
      after: "skipped",
      onCancel: "success",
      finally: "success",
      onFailure: "skipped",
    });
    expect(h.result.status).toBe("cancelled");
    expect(eventsOf(h.events, "step.finished").find((e) => e.jobId === "long" && e.stepIndex === 0)?.status).toBe("cancelled");
    // the always() jobs ran with a signal that was not aborted
    const execs = h.fakes.get("local")!.calls.filter((c) => c.method === "exec" && (c.jobId === "onCancel" || c.jobId === "finally"));
    expect(execs).toHaveLength(2);
    expect(eventsOf(h.events, "executor.cleanup")).toHaveLength(1);
  });

  it("a second (forced) cancel also stops always() jobs", async () => {
    const first = new AbortController();
    const force = new AbortController();
    const plan = makePlan({
      long: { steps: ["echo READY", "hang"] },
      finally: { needs: ["long"], if: status("always"), steps: ["echo CLEANING", "hang"] },
      later: { needs: ["finally"], if: status("always") },
    });
    const h = await runFake(plan, {
      signal: first.signal,
      forceSignal: force.signal,
      onEvent: (e) => {
        if (e.type === "log" && e.lines.includes("READY")) first.abort();
        if (e.type === "log" && e.lines.includes("CLEANING")) force.abort();
      },
    });
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toEqual({ long: "cancelled", finally: "cancelled", later: "skipped" });
    expect(h.result.status).toBe("cancelled");
  });

  it("a run cancelled before it starts runs only always() jobs", async () => {
    const controller = new AbortController();
    controller.abort();
    const h = await runFake(makePlan({ a: {}, b: { if: status("always") } }), { signal: controller.signal });
    expect(statuses(h.result)).toEqual({ a: "skipped", b: "success" });
    expect(h.result.status).toBe("cancelled");
    expect(h.violations).toEqual([]);
  });
});

describe("job selection (-j)", () => {
  const plan = makePlan({
    build: { steps: ["echo building"] },
    lint: {},
    test: { needs: ["build"], steps: ["echo testing"] },
    deploy: { needs: ["test"] },
  });

  it("runs the selected job and what it needs, transitively", async () => {
    const h = await runFake(plan, { select: { jobs: ["test"], only: false } });
    expect(statuses(h.result)).toEqual({ build: "success", test: "success" });
    expect(eventsOf(h.events, "run.started")[0]?.jobIds).toEqual(["build", "test"]);
  });

  it("with only, runs the selected jobs alone: their needs count as succeeded", async () => {
    const h = await runFake(plan, { select: { jobs: ["test"], only: true } });
    expect(statuses(h.result)).toEqual({ test: "success" });
    expect(logLines(h.events)).toEqual(["testing"]);
  });

  it("selects every matrix combination by the job key", async () => {
    const matrix = makePlan({ "t (n=1)": { key: "t", matrix: { n: "1" } }, "t (n=2)": { key: "t", matrix: { n: "2" } }, other: {} });
    const h = await runFake(matrix, { select: { jobs: ["t"], only: false } });
    expect(Object.keys(h.result.jobs).sort()).toEqual(["t (n=1)", "t (n=2)"]);
  });

  it("names the unknown job and lists the known ones", async () => {
    await expect(runFake(plan, { select: { jobs: ["tset"], only: false } })).rejects.toThrow(
      'no job named "tset" in workflow "test" (jobs: build, lint, test, deploy)',
    );
  });
});

describe("robustness", () => {
  it("a throwing event listener does not break the run", async () => {
    const reported: unknown[] = [];
    const bus = new EventBus((error) => reported.push(error));
    bus.subscribe(() => {
      throw new Error("listener broke");
    });
    const seen: GantryEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    const fakes = fakeExecutors();
    const result = await runPlan({
      plan: makePlan({ a: { steps: ["echo hi"] }, b: { needs: ["a"] } }),
      executorFor: fakes.executorFor,
      bus,
      runId: "r",
      repoDir: tempDir(),
      runDir: tempDir(),
      blobs: new BlobDir(tempDir()),
      env: { values: {}, secretValues: [] },
      concurrency: 2,
      failFast: true,
      signal: new AbortController().signal,
    });
    expect(result.status).toBe("success");
    expect(reported).toHaveLength(1);
    expect(seen.at(-1)?.type).toBe("run.finished");
    expect(fakes.violations()).toEqual([]);
  });

  it("an engine fault stops the run, cleans every workspace up, and rejects", async () => {
    const plan = makePlan({
      flaky: { steps: ["sleep 5", { run: "exit 1", retry: { attempts: 2, delayMs: 10, jitter: 1 } }] },
      slow: { executor: "other", steps: ["hang"] },
      later: { needs: ["flaky"] },
    });
    const fakes = fakeExecutors();
    const bus = new EventBus();
    const seen: GantryEvent[] = [];
    bus.subscribe((e) => seen.push(e));
    const error = await runPlan({
      plan,
      executorFor: fakes.executorFor,
      bus,
      runId: "r",
      repoDir: tempDir(),
      runDir: tempDir(),
      blobs: new BlobDir(tempDir()),
      env: { values: {}, secretValues: [] },
      concurrency: 4,
      failFast: true,
      signal: new AbortController().signal,
      killGraceMs: 10,
      random: () => {
        throw new Error("random broke");
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe("random broke");
    expect(seen.at(-1)).toMatchObject({ type: "run.finished", status: "failure" });
    const finished = Object.fromEntries(eventsOf(seen, "job.finished").map((e) => [e.jobId, e.status]));
    expect(finished).toEqual({ flaky: "failure", slow: "cancelled", later: "skipped" });
    for (const name of ["local", "other"]) {
      expect(fakes.executors.get(name)?.calls.filter((c) => c.method === "cleanupWorkspace")).toHaveLength(1);
    }
    expect(fakes.violations()).toEqual([]);
  });

  it("many concurrent jobs with timeouts cause no listener-leak warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w.name);
    };
    process.on("warning", onWarning);
    try {
      const jobs = Object.fromEntries(
        Array.from({ length: 30 }, (_, i) => [`j${i}`, { timeoutMs: 60_000, steps: [{ run: "sleep 10", timeoutMs: 60_000 }] }]),
      );
      const h = await runFake(makePlan(jobs), { concurrency: 30 });
      expect(h.result.status).toBe("success");
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it("rejects a bad concurrency", async () => {
    await expect(runFake(makePlan({ a: {} }), { concurrency: 0 })).rejects.toBeInstanceOf(GantryError);
  });
});
