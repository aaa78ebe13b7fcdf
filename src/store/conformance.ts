/**
 * The store conformance suite: one set of vitest cases every `Store` passes.
 * Run it by swapping the factory:
 *
 *   describeStoreConformance("sqlite", async ({ dir }) => ({ store: openSqliteStore({ path: `${dir}/g.db` }), exec }));
 *
 * The factory is called once per test with a fresh temp directory and must
 * return an empty, NOT yet migrated store, plus `exec` to run raw SQL on the
 * same database (used to fake a newer schema). The suite migrates and closes it.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GantryError } from "../core/errors.js";
import { EventBus } from "../core/events.js";
import { cacheConformanceCases } from "./conformance-caches.js";
import { emitSampleRun, samplePlan, samplePlanJob } from "./fixtures.js";
import { LATEST_SCHEMA_VERSION } from "./migrations/index.js";
import type { RunOwner, Store, StoreOp } from "./store.js";
import { createStoreWriter } from "./writer.js";

export interface StoreHarness {
  readonly store: Store;
  /** Run raw SQL (no parameters) on the store's database. */
  exec(sql: string): Promise<void>;
}

export type StoreFactory = (context: { dir: string }) => Promise<StoreHarness>;

const OWNER: RunOwner = { pid: 1, host: "h", boot: "b", started: "1" };

function runOp(id: string, extra: { workflow?: string; startedAt?: number; owner?: RunOwner | null; planHash?: string } = {}): StoreOp {
  return {
    op: "run",
    run: {
      id,
      workflow: extra.workflow ?? "ci",
      file: ".gantry/ci.ts",
      trigger: "manual",
      planHash: extra.planHash ?? null,
      startedAt: extra.startedAt ?? 1000,
      owner: extra.owner === undefined ? OWNER : extra.owner,
    },
  };
}

export function describeStoreConformance(name: string, factory: StoreFactory): void {
  describe(`store conformance: ${name}`, () => {
    let dir: string;
    let h: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), "gantry-store-"));
      h = await factory({ dir });
      store = h.store;
      await store.migrate();
    });
    afterEach(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("secretKey: random, made once, the same on every call; one per name (migration 4)", async () => {
      const key = await store.secretKey("cache-hmac");
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(await Promise.all([store.secretKey("cache-hmac"), store.secretKey("cache-hmac")])).toEqual([key, key]);
      expect(await store.secretKey("another")).not.toBe(key);
    });

    it("migrates once and records the versions", async () => {
      expect(await store.migrate()).toEqual([]);
    });

    it("refuses a schema newer than this Gantry, naming both versions", async () => {
      await h.exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${LATEST_SCHEMA_VERSION + 7}, 'future', 0)`);
      const error = await store.migrate().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GantryError);
      expect((error as GantryError).code).toBe("STORE_SCHEMA");
      expect((error as Error).message).toContain(
        `schema version ${LATEST_SCHEMA_VERSION + 7}, newer than this Gantry (${LATEST_SCHEMA_VERSION}); upgrade Gantry`,
      );
    });

    it("writes runs, jobs and steps and reads them back", async () => {
      await store.write([
        runOp("r1"),
        {
          op: "job",
          job: {
            runId: "r1",
            jobId: "b",
            key: "b",
            name: "build",
            position: 1,
            matrix: { node: 20 },
            needs: ["a"],
            status: "queued",
            attempts: 0,
          },
        },
        { op: "job", job: { runId: "r1", jobId: "a", position: 0 } },
        { op: "step", step: { runId: "r1", jobId: "b", stepIndex: 0, name: "compile", status: "running", attempts: 1, startedAt: 1100 } },
      ]);
      await store.write([
        {
          op: "job",
          job: { runId: "r1", jobId: "b", status: "success", attempts: 2, outputs: { v: "1" }, finishedAt: 1500, durationMs: 400 },
        },
        { op: "step", step: { runId: "r1", jobId: "b", stepIndex: 0, status: "failure", exitCode: 3, durationMs: 50 } },
        { op: "run.finish", runId: "r1", status: "failure", finishedAt: 2000, durationMs: 1000 },
      ]);
      const run = await store.runs.get("r1");
      expect(run).toMatchObject({
        id: "r1",
        workflow: "ci",
        status: "failure",
        startedAt: 1000,
        finishedAt: 2000,
        durationMs: 1000,
        owner: OWNER,
        parentRunId: null,
      });
      const jobs = await store.jobs.list("r1");
      expect(jobs.map((j) => j.jobId)).toEqual(["a", "b"]);
      // Fields the second upsert left out keep their values.
      expect(jobs[1]).toMatchObject({
        name: "build",
        matrix: { node: 20 },
        needs: ["a"],
        status: "success",
        attempts: 2,
        outputs: { v: "1" },
        durationMs: 400,
      });
      expect(jobs[0]).toMatchObject({ key: "a", status: "queued", outputs: {}, startedAt: null, location: null });
      const steps = await store.jobs.steps("r1");
      expect(steps).toEqual([
        {
          runId: "r1",
          jobId: "b",
          stepIndex: 0,
          name: "compile",
          status: "failure",
          attempts: 1,
          exitCode: 3,
          reason: null,
          startedAt: 1100,
          finishedAt: null,
          durationMs: 50,
        },
      ]);
      expect(await store.runs.get("nope")).toBeUndefined();
    });

    it("applies a batch all or nothing", async () => {
      await store.write([runOp("r1")]);
      const bad: StoreOp = {
        op: "logs",
        chunk: { runId: "missing-run", jobId: "j", stepIndex: null, seq: 1, lines: [{ ts: 1, stream: "stdout", line: "x" }] },
      };
      await expect(store.write([runOp("r2"), bad])).rejects.toThrow();
      expect(await store.runs.get("r2")).toBeUndefined();
      expect((await store.runs.list()).map((r) => r.id)).toEqual(["r1"]);
    });

    it("is idempotent: the same batch twice leaves the same rows", async () => {
      const lines = [{ ts: 5, stream: "stdout" as const, line: "hello" }];
      const batch: StoreOp[] = [
        runOp("r1"),
        { op: "job", job: { runId: "r1", jobId: "j", status: "running" } },
        { op: "logs", chunk: { runId: "r1", jobId: "j", stepIndex: 0, seq: 1, lines } },
        { op: "artifact", artifact: { runId: "r1", jobId: "j", name: "dist", hash: "a".repeat(64), size: 3, createdAt: 9 } },
      ];
      await store.write(batch);
      await store.write(batch);
      expect(await store.logs.read({ runId: "r1" })).toHaveLength(1);
      expect(await store.artifacts.list("r1")).toHaveLength(1);
      expect(await store.jobs.list("r1")).toHaveLength(1);
    });

    it("stores chunks written as blocks (a large batch, lines with a line break or NUL) and reads them back line by line", async () => {
      // ~1 MB of text in one batch: large enough for a driver's writer thread (SQLite), then a read on the main connection
      const block = Array.from({ length: 5000 }, (_, i) => `line ${i} ${"x".repeat(200)}`);
      const chunks: StoreOp[] = [];
      for (let seq = 1; seq <= 5; seq++) {
        const lines = block.slice((seq - 1) * 1000, seq * 1000);
        const segments = [
          { ts: 100 + seq, stream: "stdout" as const, lines: lines.slice(0, 600) },
          { ts: 100 + seq, stream: "stdout" as const, lines: lines.slice(600, 700) },
          { ts: 200 + seq, stream: "stderr" as const, lines: lines.slice(700) },
        ];
        chunks.push({ op: "logs", chunk: { runId: "r1", jobId: "j", stepIndex: 0, seq, segments } });
      }
      const odd = [
        { ts: 7, stream: "system" as const, lines: ["a\nb", ""] },
        { ts: 8, stream: "stdout" as const, lines: ["nul \u0000 here"] },
      ];
      chunks.push({ op: "logs", chunk: { runId: "r1", jobId: "j", stepIndex: 1, seq: 6, segments: odd } });
      await store.write([runOp("r1"), { op: "job", job: { runId: "r1", jobId: "j", status: "running" } }, ...chunks], { durable: false });
      const read = await store.logs.read({ runId: "r1", jobId: "j" });
      expect(read.map((c) => c.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(read.slice(0, 5).flatMap((c) => c.lines.map((l) => l.line))).toEqual(block);
      expect(read[1]?.lines[699]).toEqual({ ts: 102, stream: "stdout", line: block[1699] });
      expect(read[1]?.lines[700]).toEqual({ ts: 202, stream: "stderr", line: block[1700] });
      expect(read[5]?.lines).toEqual([
        { ts: 7, stream: "system", line: "a\nb" },
        { ts: 7, stream: "system", line: "" },
        { ts: 8, stream: "stdout", line: "nul \u0000 here" },
      ]);
      // a large batch that fails (on SQLite: on the writer thread) is rolled back as a whole
      const bad: StoreOp = {
        op: "logs",
        chunk: { runId: "missing", jobId: "j", stepIndex: 0, seq: 1, segments: [{ ts: 1, stream: "stdout", lines: block }] },
      };
      await expect(store.write([runOp("r2"), bad])).rejects.toThrow();
      expect(await store.runs.get("r2")).toBeUndefined();
    });

    it("lists runs newest first with filters and a limit", async () => {
      await store.write([
        runOp("aa11", { startedAt: 1, workflow: "ci" }),
        runOp("aa22", { startedAt: 2, workflow: "deploy" }),
        runOp("bb33", { startedAt: 3, workflow: "ci" }),
        { op: "run.finish", runId: "aa22", status: "success", finishedAt: 5, durationMs: 3 },
      ]);
      const ids = async (f: Parameters<Store["runs"]["list"]>[0]) => (await store.runs.list(f)).map((r) => r.id);
      expect(await ids({})).toEqual(["bb33", "aa22", "aa11"]);
      expect(await ids({ workflow: "ci" })).toEqual(["bb33", "aa11"]);
      expect(await ids({ status: "success" })).toEqual(["aa22"]);
      expect(await ids({ idPrefix: "aa" })).toEqual(["aa22", "aa11"]);
      expect(await ids({ idPrefix: "AA" })).toEqual([]);
      expect(await ids({ limit: 1 })).toEqual(["bb33"]);
      expect(await ids({ before: 3 })).toEqual(["aa22", "aa11"]);
    });

    it("reads log chunks by run, job and step, in job order, after a cursor", async () => {
      const line = (ts: number, text: string, stream: "stdout" | "stderr" | "system" = "stdout") => ({ ts, stream, line: text });
      await store.write([
        runOp("r1"),
        { op: "job", job: { runId: "r1", jobId: "second", position: 1 } },
        { op: "job", job: { runId: "r1", jobId: "first", position: 0 } },
        { op: "logs", chunk: { runId: "r1", jobId: "second", stepIndex: 0, seq: 1, lines: [line(10, "s1")] } },
        { op: "logs", chunk: { runId: "r1", jobId: "first", stepIndex: null, seq: 1, lines: [line(11, "setup", "system")] } },
        {
          op: "logs",
          chunk: {
            runId: "r1",
            jobId: "first",
            stepIndex: 0,
            seq: 2,
            lines: [line(12, "héllo ✓"), line(15, ""), line(16, "err", "stderr")],
          },
        },
        { op: "logs", chunk: { runId: "r1", jobId: "first", stepIndex: 1, seq: 3, lines: [line(20, "step two")] } },
      ]);
      const all = await store.logs.read({ runId: "r1" });
      expect(all.map((c) => `${c.jobId}#${c.seq}`)).toEqual(["first#1", "first#2", "first#3", "second#1"]);
      expect(all[1]?.lines).toEqual([line(12, "héllo ✓"), line(15, ""), line(16, "err", "stderr")]);
      expect((await store.logs.read({ runId: "r1", jobId: "first", stepIndex: 0 })).map((c) => c.seq)).toEqual([2]);
      expect((await store.logs.read({ runId: "r1", jobId: "first", stepIndex: null })).map((c) => c.seq)).toEqual([1]);
      const after = await store.logs.read({ runId: "r1", after: { first: 2 } });
      expect(after.map((c) => `${c.jobId}#${c.seq}`)).toEqual(["first#3", "second#1"]);
      expect(await store.logs.read({ runId: "r1", after: { first: 3, second: 1 } })).toEqual([]);
      expect(await store.logs.read({ runId: "r1", limit: 2 })).toHaveLength(2);
    });

    it("marks runs whose owner is gone as interrupted, with their unfinished jobs and steps", async () => {
      const dead: RunOwner = { ...OWNER, pid: 2 };
      await store.write([
        runOp("dead", { owner: dead, startedAt: 100 }),
        runOp("alive", { owner: OWNER }),
        runOp("done", { owner: dead }),
        runOp("unowned", { owner: null }),
        { op: "run.finish", runId: "done", status: "success", finishedAt: 2, durationMs: 1 },
        { op: "job", job: { runId: "dead", jobId: "ok", status: "success", finishedAt: 150 } },
        { op: "job", job: { runId: "dead", jobId: "busy", status: "running", startedAt: 200 } },
        { op: "job", job: { runId: "dead", jobId: "waiting", status: "queued" } },
        { op: "step", step: { runId: "dead", jobId: "busy", stepIndex: 0, status: "running", startedAt: 210 } },
        { op: "step", step: { runId: "dead", jobId: "busy", stepIndex: 1, status: "queued" } },
      ]);
      const marked = await store.runs.markInterrupted((o) => o.pid !== 2, 1000);
      expect(marked).toEqual(["dead"]);
      expect(await store.runs.get("dead")).toMatchObject({ status: "interrupted", finishedAt: 1000, durationMs: 900 });
      for (const id of ["alive", "unowned"]) expect((await store.runs.get(id))?.status).toBe("running");
      expect((await store.runs.get("done"))?.status).toBe("success");
      const jobs = Object.fromEntries((await store.jobs.list("dead")).map((j) => [j.jobId, j]));
      expect(jobs.ok?.status).toBe("success");
      expect(jobs.busy).toMatchObject({ status: "cancelled", finishedAt: 1000, durationMs: 800 });
      expect(jobs.busy?.reason).toMatch(/^interrupted: the process that ran it \(pid 2 on h\) is gone/);
      expect(jobs.waiting).toMatchObject({ status: "cancelled", durationMs: null });
      expect((await store.jobs.steps("dead", "busy")).map((s) => s.status)).toEqual(["cancelled", "cancelled"]);
      expect(await store.runs.markInterrupted((o) => o.pid !== 2, 2000)).toEqual([]);
    });

    it("stores plans and bundles by hash", async () => {
      const plan = samplePlan();
      await store.write([
        { op: "plan", plan },
        { op: "plan", plan },
      ]);
      expect(await store.plans.get(plan.hash)).toEqual(plan);
      expect(await store.plans.get("0".repeat(64))).toBeUndefined();
      await store.plans.putBundle(plan.bundle, "export default 1;\n");
      await store.plans.putBundle(plan.bundle, "export default 1;\n");
      expect(await store.plans.getBundle(plan.bundle)).toBe("export default 1;\n");
      expect(await store.plans.getBundle("x")).toBeUndefined();
    });

    it("stores blobs content-addressed, once, and checks their hash", async () => {
      const file = join(dir, "a.tar");
      writeFileSync(file, "artifact bytes");
      const hash = createHash("sha256").update("artifact bytes").digest("hex");
      expect(await store.artifacts.blobPath(hash)).toBeUndefined();
      await store.artifacts.putBlob(hash, file);
      await store.artifacts.putBlob(hash, file);
      const path = await store.artifacts.blobPath(hash);
      expect(path).toMatch(new RegExp(`/blobs/${hash.slice(0, 2)}/${hash}$`));
      await expect(store.artifacts.putBlob("b".repeat(64), file)).rejects.toThrow(/not the expected bbbbbbbbbbbb/);
      expect(await store.artifacts.blobPath("b".repeat(64))).toBeUndefined();

      const other = join(dir, "b.tar");
      writeFileSync(other, "unused");
      const unused = createHash("sha256").update("unused").digest("hex");
      await store.artifacts.putBlob(unused, other);
      await store.write([
        runOp("r1"),
        { op: "artifact", artifact: { runId: "r1", jobId: "j", name: "dist", hash, size: 14, createdAt: 1 } },
      ]);
      expect(await store.artifacts.sweepBlobs(3_600_000)).toEqual({ blobs: 0, bytes: 0 });
      expect(await store.artifacts.sweepBlobs(0)).toEqual({ blobs: 1, bytes: 6 });
      expect(await store.artifacts.blobPath(hash)).toBe(path);
      expect(await store.artifacts.blobPath(unused)).toBeUndefined();
      expect(await store.artifacts.list("r1")).toEqual([{ runId: "r1", jobId: "j", name: "dist", hash, size: 14, createdAt: 1 }]);
    });

    it("prunes old finished runs with everything that hangs off them", async () => {
      const plan = samplePlan("old");
      await store.write([
        { op: "plan", plan },
        runOp("old", { startedAt: 10, planHash: plan.hash }),
        runOp("old-running", { startedAt: 10 }),
        runOp("new", { startedAt: 5000 }),
        { op: "run.finish", runId: "old", status: "success", finishedAt: 20, durationMs: 10 },
        { op: "run.finish", runId: "new", status: "success", finishedAt: 5001, durationMs: 1 },
        { op: "job", job: { runId: "old", jobId: "j" } },
        { op: "step", step: { runId: "old", jobId: "j", stepIndex: 0 } },
        { op: "logs", chunk: { runId: "old", jobId: "j", stepIndex: 0, seq: 1, lines: [{ ts: 1, stream: "stdout", line: "x" }] } },
        { op: "artifact", artifact: { runId: "old", jobId: "j", name: "a", hash: "c".repeat(64), size: 1, createdAt: 1 } },
      ]);
      await store.plans.putBundle(plan.bundle, "code");
      expect(await store.runs.prune(1000)).toBe(1);
      expect((await store.runs.list()).map((r) => r.id).sort()).toEqual(["new", "old-running"]);
      expect(await store.jobs.list("old")).toEqual([]);
      expect(await store.jobs.steps("old")).toEqual([]);
      expect(await store.logs.read({ runId: "old" })).toEqual([]);
      expect(await store.artifacts.list("old")).toEqual([]);
      expect(await store.plans.get(plan.hash)).toBeUndefined();
      expect(await store.plans.getBundle(plan.bundle)).toBeUndefined();
      expect(await store.runs.prune(1000)).toBe(0);
    });

    it("accepts overlapping writes", async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.write([runOp(`r${i}`, { startedAt: i })])));
      expect(await store.runs.list({ limit: 100 })).toHaveLength(20);
    });

    it("records a run through the writer: rows, chunks in order, sequence numbers", async () => {
      const bus = new EventBus();
      const writer = createStoreWriter(store, { runId: "w1", trigger: "push", chunkLines: 4 });
      bus.subscribe(writer.onEvent);
      const plan = samplePlan("ci", [
        samplePlanJob("build", { steps: ["install", "compile"] }),
        samplePlanJob("test", { needs: ["build"], matrix: { node: "20" } }),
      ]);
      emitSampleRun(bus, "w1", plan, { linesPerStep: 10 });
      await writer.close();
      expect(writer.committedLines).toBe(2 + 3 * 10);
      expect(await store.runs.get("w1")).toMatchObject({
        workflow: "ci",
        trigger: "push",
        status: "success",
        planHash: plan.hash,
        file: ".gantry/ci.ts",
      });
      expect(await store.plans.get(plan.hash)).toEqual(plan);
      const jobs = await store.jobs.list("w1");
      expect(jobs.map((j) => [j.jobId, j.status, j.attempts, j.position, j.jobHash])).toEqual([
        ["build", "success", 1, 0, plan.jobs[0]?.hash],
        ["test", "success", 1, 1, plan.jobs[1]?.hash],
      ]);
      expect(jobs[1]).toMatchObject({ matrix: { node: "20" }, needs: ["build"], outputs: { done: "yes" }, executor: "local" });
      expect((await store.jobs.steps("w1")).map((s) => `${s.jobId}:${s.name}:${s.status}:${s.exitCode}`)).toEqual([
        "build:install:success:0",
        "build:compile:success:0",
        "test:step:success:0",
      ]);
      const chunks = await store.logs.read({ runId: "w1", jobId: "build" });
      expect(chunks.map((c) => [c.seq, c.stepIndex, c.lines.length])).toEqual([
        [1, null, 1],
        [2, 0, 4],
        [3, 0, 4],
        [4, 0, 2],
        [5, 1, 4],
        [6, 1, 4],
        [7, 1, 2],
      ]);
      const text = chunks.flatMap((c) => c.lines.map((l) => l.line));
      expect(text[0]).toBe("setting up build");
      expect(text.slice(1, 11)).toEqual(Array.from({ length: 10 }, (_, i) => `build/install line ${i}`));
      expect(chunks[2]?.lines[0]?.stream).toBe("stderr");
    });

    it("records where each job ran: the location of its last attempt (migration 2)", async () => {
      const bus = new EventBus();
      const writer = createStoreWriter(store, { runId: "loc" });
      bus.subscribe(writer.onEvent);
      const plan = samplePlan("ci", [samplePlanJob("a"), samplePlanJob("b"), samplePlanJob("c")]);
      bus.emit("run.started", { runId: "loc", plan, jobIds: ["a", "b", "c"] });
      bus.emit("job.started", { runId: "loc", jobId: "a", attempt: 1, executor: "local" });
      bus.emit("job.location", { runId: "loc", jobId: "a", attempt: 1, location: "ci@10.0.0.1:22" });
      bus.emit("job.retry", { runId: "loc", jobId: "a", attempt: 2, delayMs: 0, reason: "connection lost" });
      bus.emit("job.started", { runId: "loc", jobId: "a", attempt: 2, executor: "local" });
      bus.emit("job.location", { runId: "loc", jobId: "a", attempt: 2, location: "build-2 (ci@10.0.0.2:22)" });
      bus.emit("job.finished", { runId: "loc", jobId: "a", status: "success", attempts: 2, durationMs: 5, outputs: {} });
      // A retry whose setup never reached a host does not keep the previous attempt's host.
      bus.emit("job.started", { runId: "loc", jobId: "b", attempt: 1, executor: "local" });
      bus.emit("job.location", { runId: "loc", jobId: "b", attempt: 1, location: "ci@10.0.0.3:22" });
      bus.emit("job.started", { runId: "loc", jobId: "b", attempt: 2, executor: "local" });
      bus.emit("job.finished", { runId: "loc", jobId: "b", status: "failure", attempts: 2, durationMs: 5, outputs: {} });
      bus.emit("job.started", { runId: "loc", jobId: "c", attempt: 1, executor: "local" });
      bus.emit("job.finished", { runId: "loc", jobId: "c", status: "success", attempts: 1, durationMs: 5, outputs: {} });
      bus.emit("run.finished", { runId: "loc", status: "failure", durationMs: 9 });
      await writer.close();
      const jobs = await store.jobs.list("loc");
      expect(jobs.map((j) => [j.jobId, j.attempts, j.location])).toEqual([
        ["a", 2, "build-2 (ci@10.0.0.2:22)"],
        ["b", 2, null],
        ["c", 1, null],
      ]);
      await store.write([{ op: "job", job: { runId: "loc", jobId: "c", location: "container 3f2a" } }]);
      expect((await store.jobs.list("loc"))[2]).toMatchObject({ status: "success", location: "container 3f2a" });
    });

    it("migration 2 adds jobs.location to a version-1 database, keeping its rows", async () => {
      await store.write([runOp("old"), { op: "job", job: { runId: "old", jobId: "a", status: "success", attempts: 1 } }]);
      // Back to what version 1 looked like (later migrations stay applied).
      await h.exec(`ALTER TABLE jobs DROP COLUMN location; DELETE FROM schema_migrations WHERE version = 2`);
      expect(await store.migrate()).toEqual([2]);
      expect(await store.jobs.list("old")).toMatchObject([{ jobId: "a", status: "success", attempts: 1, location: null }]);
    });

    it("writer: flush commits everything received before it, in batches, without blocking emit", async () => {
      const bus = new EventBus();
      const writer = createStoreWriter(store, { flushIntervalMs: 60_000, batchLines: 1_000_000 });
      bus.subscribe(writer.onEvent);
      emitSampleRun(bus, "w2", samplePlan(), { linesPerStep: 500, finish: false });
      // Nothing is written synchronously by emit.
      expect(await store.runs.get("w2")).toBeUndefined();
      await writer.flush();
      expect((await store.runs.get("w2"))?.status).toBe("running");
      const lines = (await store.logs.read({ runId: "w2", limit: 10_000 })).reduce((n, c) => n + c.lines.length, 0);
      expect(lines).toBe(2 + 3 * 500);
      bus.emit("run.finished", { runId: "w2", status: "failure", durationMs: 5 });
      await writer.close();
      expect((await store.runs.get("w2"))?.status).toBe("failure");
      bus.emit("log", { runId: "w2", jobId: "build", stream: "stdout", lines: ["after close"] });
      await writer.flush();
      expect(writer.committedLines).toBe(lines);
    });

    it("writer: copies artifact blobs before recording them", async () => {
      const bus = new EventBus();
      const file = join(dir, "blob.tar");
      writeFileSync(file, "tar bytes");
      const hash = createHash("sha256").update("tar bytes").digest("hex");
      const errors: Error[] = [];
      const writer = createStoreWriter(store, {
        blobPath: (h) => (h === hash ? file : join(dir, "missing")),
        onError: (e) => errors.push(e),
      });
      bus.subscribe(writer.onEvent);
      emitSampleRun(bus, "w3", samplePlan(), { finish: false });
      bus.emit("artifact.saved", { runId: "w3", jobId: "build", name: "dist", hash, size: 9 });
      bus.emit("artifact.saved", { runId: "w3", jobId: "build", name: "lost", hash: "d".repeat(64), size: 1 });
      bus.emit("run.finished", { runId: "w3", status: "success", durationMs: 1 });
      await writer.close();
      expect((await store.artifacts.list("w3")).map((a) => [a.name, a.hash, a.size])).toEqual([["dist", hash, 9]]);
      expect(await store.artifacts.blobPath(hash)).toBeDefined();
      expect(errors).toHaveLength(1);
    });

    cacheConformanceCases(() => ({ store, dir }));

    it("rejects calls after close", async () => {
      await store.close();
      await expect(store.runs.list()).rejects.toThrow(/closed/);
      await store.close();
    });
  });
}
