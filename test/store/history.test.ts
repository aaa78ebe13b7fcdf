/** The store side of rerun and caching: selection (pure), loading a run, restoring reused jobs, cache keys. */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobStatus } from "../../src/core/context.js";
import { EventBus } from "../../src/core/events.js";
import { samplePlan, samplePlanJob } from "../../src/store/fixtures.js";
import { jobCacheKey, loadPreviousRun, restoredJobs, selectRerun } from "../../src/store/history.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { createStoreWriter } from "../../src/store/writer.js";

// A diamond: build -> (left, right) -> join, plus an independent lint.
const plan = samplePlan("diamond", [
  samplePlanJob("build"),
  samplePlanJob("lint"),
  samplePlanJob("left", { needs: ["build"] }),
  samplePlanJob("right", { needs: ["build"] }),
  samplePlanJob("join", { needs: ["left", "right"] }),
]);
const statuses = (s: Record<string, JobStatus>) => Object.entries(s).map(([jobId, status]) => ({ jobId, status }));

describe("selectRerun", () => {
  it("--failed re-runs the failed branch and what depends on it, reuses the rest", () => {
    const jobs = statuses({ build: "success", lint: "success", left: "success", right: "failure", join: "skipped" });
    expect(selectRerun(plan, jobs, { failedOnly: true })).toEqual({ rerun: ["right", "join"], reuse: ["build", "lint", "left"] });
  });

  it("treats cancelled, timed-out and unfinished jobs as failed; leaves out jobs the run did not have", () => {
    const jobs = statuses({ build: "success", left: "timed_out", right: "running", join: "queued" });
    expect(selectRerun(plan, jobs, { failedOnly: true })).toEqual({ rerun: ["left", "right", "join"], reuse: ["build"] });
    expect(selectRerun(plan, statuses({ build: "cancelled" }), { failedOnly: true }).rerun).toEqual(["build"]);
  });

  it("without --failed re-runs every job of the plan, or of the previous run's selection", () => {
    expect(selectRerun(plan, [], { failedOnly: false })).toEqual({ rerun: plan.jobs.map((j) => j.id), reuse: [] });
    const first = plan.jobs[0]!.id;
    expect(selectRerun(plan, [{ jobId: first, status: "success" }], { failedOnly: false })).toEqual({ rerun: [first], reuse: [] });
  });
});

describe("loading a previous run", () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "gantry-history-"));
    store = openSqliteStore({ path: join(dir, "gantry.db") });
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns plan, bundle, jobs and artifacts, and restores reused jobs with their blobs", async () => {
    const blob = join(dir, "left.tar");
    writeFileSync(blob, "left output");
    const hash = createHash("sha256").update("left output").digest("hex");
    const bus = new EventBus();
    const writer = createStoreWriter(store, { blobPath: () => blob, bundleCode: () => "export default {};" });
    bus.subscribe(writer.onEvent);
    const runId = "r1";
    bus.emit("run.started", { runId, plan, jobIds: plan.jobs.map((j) => j.id) });
    const finish = (jobId: string, status: JobStatus) =>
      bus.emit("job.finished", { runId, jobId, status, attempts: 1, durationMs: 1, outputs: { from: jobId } });
    finish("build", "success");
    finish("lint", "success");
    bus.emit("artifact.saved", { runId, jobId: "left", name: "l", hash, size: 11 });
    finish("left", "success");
    finish("right", "failure");
    finish("join", "skipped");
    bus.emit("run.finished", { runId, status: "failure", durationMs: 5 });
    await writer.close();

    const previous = await loadPreviousRun(store, runId);
    expect(previous.plan).toEqual(plan);
    expect(previous.bundle).toBe("export default {};");
    const { reuse } = selectRerun(previous.plan, previous.jobs, { failedOnly: true });
    const restored = await restoredJobs(store, previous, reuse);
    expect(Object.keys(restored)).toEqual(["build", "lint", "left"]);
    expect(restored.left).toEqual({
      status: "success",
      outputs: { from: "left" },
      artifacts: { l: { hash, size: 11 } },
    });

    await store.artifacts.sweepBlobs(0);
    await store.runs.prune(Date.now() + 1);
    await expect(loadPreviousRun(store, runId)).rejects.toThrow('no run "r1"');
  });

  it("refuses a run that is still running or whose plan is gone", async () => {
    await store.write([
      { op: "run", run: { id: "busy", workflow: "w", file: "f", trigger: "manual", planHash: "x".repeat(64), startedAt: 1, owner: null } },
    ]);
    await expect(loadPreviousRun(store, "busy")).rejects.toThrow("run busy is still running");
    await store.write([{ op: "run.finish", runId: "busy", status: "failure", finishedAt: 2, durationMs: 1 }]);
    await expect(loadPreviousRun(store, "busy")).rejects.toThrow(
      "run busy has no stored plan (xxxxxxxxxxxx was deleted by gc?); it cannot be re-run",
    );
  });
});

describe("jobCacheKey", () => {
  it("changes with the job hash, an input's content or any env value, not with key order", () => {
    const base = jobCacheKey("h", { dist: "a", docs: "b" }, { CI: "1", NODE: "20" });
    expect(jobCacheKey("h", { docs: "b", dist: "a" }, { NODE: "20", CI: "1" })).toEqual(base);
    expect(jobCacheKey("h2", { dist: "a", docs: "b" }, { CI: "1", NODE: "20" }).jobHash).not.toBe(base.jobHash);
    expect(jobCacheKey("h", { dist: "c", docs: "b" }, { CI: "1", NODE: "20" }).inputsHash).not.toBe(base.inputsHash);
    expect(jobCacheKey("h", { dist: "a", docs: "b" }, { CI: "1", NODE: "22" }).envHash).not.toBe(base.envHash);
  });
});
