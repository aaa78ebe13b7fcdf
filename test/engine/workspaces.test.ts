import { afterAll, describe, expect, it } from "vitest";
import { BlobDir } from "../../src/store/blobs.js";
import { EventBus } from "../../src/core/events.js";
import type { Executor } from "../../src/core/executor.js";
import { runPlan } from "../../src/engine/run.js";
import { createFakeExecutor, fakeExecutors, type FakeExecutor } from "../../src/executors/fake.js";
import { eventsOf, makeJob, makePlan, removeTempDirs, runFake, status, statuses, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

function methods(fake: FakeExecutor | undefined, method: string): number {
  return fake?.calls.filter((c) => c.method === method).length ?? 0;
}

describe("workspaces", () => {
  const plan = makePlan({
    a: { executor: "one", steps: ["sleep 5"] },
    b: { executor: "two", steps: ["sleep 5"] },
    c: { executor: "one", needs: ["a"], steps: ["sleep 5"] },
    d: { executor: "two", needs: ["b"] },
    e: { executor: "one", needs: ["c"] },
  });

  it("sets each executor up once, before its first job, and cleans it up once, after its last", async () => {
    const h = await runFake(plan, { concurrency: 3 });
    expect(h.violations).toEqual([]);
    for (const name of ["one", "two"]) {
      const fake = h.fakes.get(name);
      expect(methods(fake, "setupWorkspace")).toBe(1);
      expect(methods(fake, "cleanupWorkspace")).toBe(1);
      expect(fake?.calls[0]?.method).toBe("setupWorkspace");
      expect(fake?.calls.at(-1)?.method).toBe("cleanupWorkspace");
    }
    // "two" ran out of jobs first: its cleanup does not wait for the end of the run
    const cleanups = eventsOf(h.events, "executor.cleanup").map((e) => e.executor);
    expect(cleanups).toEqual(["two", "one"]);
    const twoCleaned = h.events.findIndex((e) => e.type === "executor.cleanup" && e.executor === "two");
    const eFinished = h.events.findIndex((e) => e.type === "job.finished" && e.jobId === "e");
    expect(twoCleaned).toBeLessThan(eFinished);
  });

  it("jobs that start together wait for the same setup", async () => {
    const jobs = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`j${i}`, {}]));
    const h = await runFake(makePlan(jobs), { concurrency: 4, fake: () => ({ setupWorkspaceMs: 20 }) });
    expect(h.violations).toEqual([]);
    expect(methods(h.fakes.get("local"), "setupWorkspace")).toBe(1);
    expect(eventsOf(h.events, "executor.setup")).toHaveLength(1);
  });

  it("never sets up an executor whose jobs were all skipped", async () => {
    const p = makePlan({ a: { steps: ["exit 1"] }, b: { executor: "other", needs: ["a"] } });
    const h = await runFake(p);
    expect(h.fakes.has("other")).toBe(false);
    expect(h.violations).toEqual([]);
  });

  it("cleans up after failures and cancellation", async () => {
    const failed = await runFake(
      makePlan({ a: { executor: "one", steps: ["exit 1"] }, b: { executor: "two", steps: ["hang"], timeoutMs: 20 } }),
    );
    expect(statuses(failed.result)).toEqual({ a: "failure", b: "timed_out" });
    for (const fake of failed.fakes.values()) expect(methods(fake, "cleanupWorkspace")).toBe(1);
    expect(failed.violations).toEqual([]);

    const controller = new AbortController();
    const cancelled = await runFake(
      makePlan({ a: { executor: "one", steps: ["echo GO\nhang"] }, b: { executor: "two", steps: ["hang"] } }),
      {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === "log" && e.lines.includes("GO")) controller.abort();
        },
      },
    );
    expect(cancelled.result.status).toBe("cancelled");
    for (const fake of cancelled.fakes.values()) {
      expect(methods(fake, "cleanupWorkspace")).toBe(1);
      expect(methods(fake, "cleanupJob")).toBe(1);
    }
    expect(cancelled.violations).toEqual([]);
  });

  it("a failed workspace setup fails its jobs, is still cleaned up, and leaves other executors alone", async () => {
    const p = makePlan({ a: { executor: "broken" }, b: { executor: "broken" }, c: { executor: "fine" } });
    const h = await runFake(p, { fake: (def) => (def.name === "broken" ? { failSetupWorkspace: "no daemon" } : {}), failFast: false });
    expect(statuses(h.result)).toEqual({ a: "failure", b: "failure", c: "success" });
    expect(h.result.jobs.a?.reason).toBe('executor "broken" could not be set up: no daemon');
    const broken = h.fakes.get("broken");
    expect(methods(broken, "setupWorkspace")).toBe(1);
    expect(methods(broken, "setupJob")).toBe(0);
    expect(methods(broken, "cleanupJob")).toBe(0);
    expect(methods(broken, "cleanupWorkspace")).toBe(1);
    expect(eventsOf(h.events, "executor.setup").find((e) => e.executor === "broken")?.error).toBe("no daemon");
    expect(h.violations).toEqual([]);
  });

  it("a failing cleanup is reported on executor.cleanup and does not fail the run", async () => {
    const h = await runFake(makePlan({ a: {} }), { fake: () => ({ failCleanupWorkspace: "disk gone" }) });
    expect(h.result.status).toBe("success");
    expect(eventsOf(h.events, "executor.cleanup")[0]?.error).toBe("disk gone");
  });

  it("an executor that cannot be built fails its jobs clearly", async () => {
    const fakes = fakeExecutors();
    const bus = new EventBus();
    const result = await runPlan({
      plan: makePlan({ a: { executor: "weird" }, b: {} }),
      executorFor: (def): Executor => {
        if (def.name === "weird") throw new Error("no executor kind 'weird'");
        return fakes.executorFor(def);
      },
      bus,
      runId: "r",
      repoDir: tempDir(),
      runDir: tempDir(),
      blobs: new BlobDir(tempDir()),
      env: { values: {}, secretValues: [] },
      concurrency: 1,
      failFast: false,
      signal: new AbortController().signal,
    });
    expect(result.jobs.a).toMatchObject({ status: "failure", reason: `executor "weird" could not be set up: no executor kind 'weird'` });
    expect(result.jobs.b?.status).toBe("success");
    expect(fakes.violations()).toEqual([]);
  });

  it("after a cancel, an always() job sets up a workspace no job used yet", async () => {
    const controller = new AbortController();
    const p = makePlan({
      a: { steps: ["echo GO\nhang"] },
      report: { executor: "late", needs: ["a"], if: status("always"), steps: ["echo reporting"] },
    });
    const h = await runFake(p, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "log" && e.lines.includes("GO")) controller.abort();
      },
    });
    expect(statuses(h.result)).toEqual({ a: "cancelled", report: "success" });
    expect(methods(h.fakes.get("late"), "cleanupWorkspace")).toBe(1);
    expect(h.violations).toEqual([]);
  });
});

describe("the fake executor checks its caller", () => {
  const job = makeJob("a", { executor: "fake" });
  const def = { name: "fake", kind: "local" as const, options: {}, hash: "h" };
  const ws = { runId: "r", repoDir: "/r", runDir: "/d", executor: def, jobs: [job], signal: new AbortController().signal };
  const info = { runId: "r", repoDir: "/r", runDir: "/d", job, attempt: 1, signal: new AbortController().signal };
  const io = { stdout: () => {}, stderr: () => {} };

  it("exec before setupJob", async () => {
    const fake = createFakeExecutor({ name: "fake" });
    await fake.setupWorkspace(ws);
    await expect(fake.exec(info, { script: "true", env: {}, signal: info.signal }, io)).rejects.toThrow("contract violation");
    expect(fake.violations).toEqual(['exec for job "a" outside setupJob..cleanupJob']);
  });

  it("setupJob before setupWorkspace, and calls after cleanupWorkspace", async () => {
    const fake = createFakeExecutor({ name: "fake" });
    await expect(fake.setupJob(info)).rejects.toThrow();
    await fake.cleanupWorkspace(ws);
    await expect(fake.setupWorkspace(ws)).rejects.toThrow();
    expect(fake.violations).toEqual(['setupJob for job "a" while the workspace is none', "setupWorkspace after cleanupWorkspace"]);
  });

  it("cleanupWorkspace while a job is set up, and cleanup with an aborted signal", async () => {
    const fake = createFakeExecutor({ name: "fake" });
    await fake.setupWorkspace(ws);
    await fake.setupJob(info);
    const aborted = new AbortController();
    aborted.abort();
    await expect(fake.cleanupJob({ ...info, signal: aborted.signal })).rejects.toThrow();
    await expect(fake.cleanupWorkspace(ws)).rejects.toThrow();
    expect(fake.violations).toEqual([
      'cleanupJob for job "a" got an already aborted signal',
      'cleanupWorkspace while job "a" is still set up',
    ]);
  });

  it("runs its little language", async () => {
    const fake = createFakeExecutor({ name: "fake" });
    await fake.setupWorkspace(ws);
    await fake.setupJob(info);
    const out: string[] = [];
    const result = await fake.exec(
      info,
      { script: "echo hi $WHO; write f.txt data\ncat f.txt && echoerr oops\nexit 3\necho never", env: { WHO: "you" }, signal: info.signal },
      { stdout: (c) => out.push(`out:${c.toString()}`), stderr: (c) => out.push(`err:${c.toString()}`) },
    );
    expect(result).toEqual({ exitCode: 3, signal: null, timedOut: false, cancelled: false });
    expect(out).toEqual(["out:hi you\n", "out:data\n", "err:oops\n"]);
    const timeout = new AbortController();
    setTimeout(() => timeout.abort(new DOMException("t", "TimeoutError")), 5);
    expect(await fake.exec(info, { script: "hang", env: {}, signal: timeout.signal }, io)).toMatchObject({
      timedOut: true,
      cancelled: false,
    });
    await fake.cleanupJob(info);
    await fake.cleanupWorkspace(ws);
    expect(fake.violations).toEqual([]);
  });
});
