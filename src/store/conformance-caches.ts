/**
 * Store conformance cases for caching (`cache: true` results and keyed
 * `caches` entries), registered inside `describeStoreConformance`.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { EventBus } from "../core/events.js";
import { emitSampleRun, samplePlan } from "./fixtures.js";
import type { Store, StoreOp } from "./store.js";
import { createStoreWriter } from "./writer.js";

function run(id: string, startedAt = 1000): StoreOp {
  return { op: "run", run: { id, workflow: "ci", file: ".gantry/ci.ts", trigger: "manual", planHash: null, startedAt, owner: null } };
}

function entry(key: string, runId: string, createdAt: number, paths: Record<string, string>): StoreOp {
  const blobs: Record<string, { hash: string; size: number }> = {};
  for (const [path, hash] of Object.entries(paths)) blobs[path] = { hash, size: 3 };
  return { op: "cache", entry: { key, runId, jobId: "deps", paths: blobs, createdAt } };
}

const H = (c: string): string => c.repeat(64);

export function cacheConformanceCases(current: () => { store: Store; dir: string }): void {
  it("finds the latest successful or cached job with the same cache key", async () => {
    const { store } = current();
    const key = { jobHash: "jh", inputsHash: "ih", envHash: "eh" };
    await store.write([
      run("r1"),
      run("r2"),
      run("r3"),
      { op: "job", job: { runId: "r1", jobId: "b", status: "success", finishedAt: 10, outputs: { o: "1" }, ...key } },
      { op: "job", job: { runId: "r2", jobId: "b", status: "success", finishedAt: 20, outputs: { o: "2" }, ...key } },
      { op: "job", job: { runId: "r2", jobId: "c", status: "failure", finishedAt: 30, ...key } },
    ]);
    expect(await store.jobs.findCached(key)).toMatchObject({ runId: "r2", jobId: "b", outputs: { o: "2" } });
    expect(await store.jobs.findCached({ ...key, envHash: "other" })).toBeUndefined();
    await store.write([{ op: "job", job: { runId: "r3", jobId: "b", status: "cached", finishedAt: 40, outputs: { o: "2" }, ...key } }]);
    expect(await store.jobs.findCached(key)).toMatchObject({ runId: "r3", status: "cached" });
  });

  it("keyed caches: exact key first, else the newest entry of the first matching prefix; the first save wins", async () => {
    const { store } = current();
    await store.write([
      run("r1"),
      entry("deps-linux-aaa", "r1", 10, { node_modules: H("a"), ".cache": H("b") }),
      entry("deps-linux-bbb", "r1", 20, { node_modules: H("c") }),
      entry("deps-mac-ccc", "r1", 30, { node_modules: H("d") }),
      entry("100%_x", "r1", 40, { p: H("e") }),
    ]);
    expect(await store.caches.find("deps-linux-aaa", ["deps-"])).toEqual({
      key: "deps-linux-aaa",
      runId: "r1",
      jobId: "deps",
      createdAt: 10,
      paths: { ".cache": { hash: H("b"), size: 3 }, node_modules: { hash: H("a"), size: 3 } },
    });
    expect((await store.caches.find("deps-linux-zzz", ["deps-linux-", "deps-"]))?.key).toBe("deps-linux-bbb");
    expect((await store.caches.find("deps-win-zzz", ["deps-win-", "deps-"]))?.key).toBe("deps-mac-ccc");
    expect(await store.caches.find("deps-win-zzz", ["deps-win-"])).toBeUndefined();
    expect(await store.caches.find("deps-linux-zzz")).toBeUndefined();
    // prefixes are literal: no LIKE wildcards
    expect(await store.caches.find("x", ["100_"])).toBeUndefined();
    expect((await store.caches.find("x", ["100%_"]))?.key).toBe("100%_x");
    await store.write([entry("deps-linux-aaa", "r1", 50, { node_modules: H("f") })]);
    expect((await store.caches.find("deps-linux-aaa"))?.paths.node_modules?.hash).toBe(H("a"));
  });

  it("keyed caches: blobs they use survive sweepBlobs, entries older than prune's cut-off go", async () => {
    const { store, dir } = current();
    const file = join(dir, "cache.tar");
    writeFileSync(file, "cache bytes");
    const hash = createHash("sha256").update("cache bytes").digest("hex");
    await store.artifacts.putBlob(hash, file);
    await store.write([run("r1", 10), entry("old", "r1", 10, { p: hash }), entry("new", "r1", 5000, { p: H("9") })]);
    expect(await store.artifacts.sweepBlobs(0)).toEqual({ blobs: 0, bytes: 0 });
    expect(await store.artifacts.blobPath(hash)).toBeDefined();
    await store.runs.prune(1000);
    expect(await store.caches.find("old")).toBeUndefined();
    expect((await store.caches.find("new"))?.key).toBe("new");
    expect(await store.artifacts.sweepBlobs(0)).toEqual({ blobs: 1, bytes: 11 });
  });

  it("writer: records a saved cache once its blobs are in the store", async () => {
    const { store, dir } = current();
    const bus = new EventBus();
    const file = join(dir, "c.tar");
    writeFileSync(file, "cache tar");
    const hash = createHash("sha256").update("cache tar").digest("hex");
    const writer = createStoreWriter(store, { blobPath: (h) => (h === hash ? file : undefined) });
    bus.subscribe(writer.onEvent);
    emitSampleRun(bus, "w9", samplePlan(), { finish: false });
    bus.emit("cache.saved", { runId: "w9", jobId: "build", key: "k-1", paths: { vendor: { hash, size: 9 } } });
    bus.emit("run.finished", { runId: "w9", status: "success", durationMs: 1 });
    await writer.close();
    expect(await store.caches.find("k-1")).toMatchObject({ key: "k-1", runId: "w9", jobId: "build", paths: { vendor: { hash, size: 9 } } });
    expect(await store.artifacts.blobPath(hash)).toBeDefined();
  });

  it("writer: a run that reuses jobs records them with their artifacts, without step rows", async () => {
    const { store } = current();
    const bus = new EventBus();
    const writer = createStoreWriter(store, {});
    bus.subscribe(writer.onEvent);
    const plan = samplePlan();
    bus.emit("run.started", { runId: "w10", plan, jobIds: ["test"], reused: ["build"] });
    bus.emit("artifact.saved", { runId: "w10", jobId: "build", name: "dist", hash: H("7"), size: 5 });
    bus.emit("job.finished", {
      runId: "w10",
      jobId: "build",
      status: "success",
      attempts: 0,
      durationMs: 0,
      outputs: { v: "1" },
      reason: "reused from run w0",
    });
    bus.emit("run.finished", { runId: "w10", status: "success", durationMs: 1 });
    await writer.close();
    const jobs = await store.jobs.list("w10");
    expect(jobs.map((j) => [j.jobId, j.status, j.reason])).toEqual([
      ["build", "success", "reused from run w0"],
      ["test", "queued", null],
    ]);
    expect((await store.jobs.steps("w10")).map((s) => s.jobId)).toEqual(["test"]);
    expect(await store.artifacts.list("w10", "build")).toMatchObject([{ name: "dist", hash: H("7") }]);
  });
}
