/** The history commands (runs, show, logs, artifacts, gc) against a real SQLite store in a temp repository. */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { captureIo } from "../support/io.js";
import { artifactsCommand } from "../../src/cli/artifacts.js";
import { gcCommand } from "../../src/cli/gc.js";
import { logsCommand } from "../../src/cli/logs.js";
import { runsCommand } from "../../src/cli/runs.js";
import { showCommand } from "../../src/cli/show.js";
import { GantryError } from "../../src/core/errors.js";
import { EventBus } from "../../src/core/events.js";
import { buildTar } from "../../src/executors/conformance-fixtures.js";
import { packPath } from "../../src/executors/shared/tar-local.js";
import { emitSampleRun, samplePlan, samplePlanJob } from "../../src/store/fixtures.js";
import { openStore } from "../../src/store/open.js";
import type { Store } from "../../src/store/store.js";
import { createStoreWriter } from "../../src/store/writer.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2024, 4, 10, 12);
const env = {};

let repo: string;
beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), "gantry-history-"));
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

async function record(
  store: Store,
  runId: string,
  options: { workflow?: string; t0?: number; fail?: boolean; blob?: { name: string; file: string; hash: string; size: number } } = {},
): Promise<void> {
  const bus = new EventBus();
  const writer = createStoreWriter(store, { runId, blobPath: () => options.blob?.file });
  bus.subscribe(writer.onEvent);
  const plan = samplePlan(options.workflow ?? "ci", [
    samplePlanJob("build", { steps: ["install", "compile"] }),
    samplePlanJob("test", { needs: ["build"] }),
  ]);
  const t0 = options.t0 ?? NOW - 1000;
  emitSampleRun(bus, runId, plan, { t0, finish: false, linesPerStep: 3 });
  if (options.blob) bus.emit("artifact.saved", { runId, ts: t0 + 500, jobId: "build", ...options.blob });
  bus.emit("run.finished", { runId, ts: t0 + 900, status: options.fail ? "failure" : "success", durationMs: 900 });
  await writer.close();
}

/** A tar blob holding `dist/app.js`, as the engine would have saved it. */
async function makeBlob(): Promise<{ file: string; hash: string; size: number }> {
  const src = join(repo, "src-files");
  mkdirSync(join(src, "dist"), { recursive: true });
  writeFileSync(join(src, "dist", "app.js"), "console.log('hi')\n");
  const file = join(repo, "blob.tar");
  await pipeline(packPath(src, "dist"), createWriteStream(file));
  const bytes = readFileSync(file);
  return { file, hash: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
}

async function seed(): Promise<void> {
  const store = await openStore({ repoDir: repo, env });
  const blob = await makeBlob();
  await record(store, "20240501-100000-aaaa", { t0: NOW - 9 * DAY, blob: { name: "dist", ...blob } });
  await record(store, "20240509-100000-bbbb", { t0: NOW - DAY, workflow: "deploy", fail: true });
  await record(store, "20240510-110000-bbcc", { t0: NOW - 3_600_000 });
  await store.close();
}

const deps = { env, now: () => NOW };

describe("gantry runs", () => {
  it("prints a table newest first, filters, limits and prints JSON", async () => {
    await seed();
    const io = captureIo();
    expect(await runsCommand({ dir: repo }, io, deps)).toBe(0);
    const lines = io.stdout().trimEnd().split("\n");
    expect(lines[0]).toMatch(/^ID\s+WORKFLOW\s+TRIGGER\s+STATUS\s+DURATION\s+STARTED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 5))).toEqual([
      ["20240510-110000-bbcc", "ci", "manual", "success", "900ms"],
      ["20240509-100000-bbbb", "deploy", "manual", "failure", "900ms"],
      ["20240501-100000-aaaa", "ci", "manual", "success", "900ms"],
    ]);
    const filtered = captureIo();
    await runsCommand({ dir: repo, workflow: "ci", limit: 1 }, filtered, deps);
    expect(filtered.stdout()).toContain("20240510-110000-bbcc");
    expect(filtered.stdout()).not.toContain("aaaa");
    const json = captureIo();
    await runsCommand({ dir: repo, status: "failure", json: true }, json, deps);
    expect((JSON.parse(json.stdout()) as Array<{ id: string }>).map((r) => r.id)).toEqual(["20240509-100000-bbbb"]);
  });

  it("rejects a bad --status with the allowed values", async () => {
    await expect(runsCommand({ dir: repo, status: "green" }, captureIo(), deps)).rejects.toThrow(
      '--status: expected one of running, success, failure, cancelled, interrupted, got "green"',
    );
  });
});

describe("gantry show", () => {
  it("shows jobs, steps and artifacts of a run found by prefix or `last`", async () => {
    await seed();
    const io = captureIo();
    expect(await showCommand({ dir: repo, run: "20240501" }, io, deps)).toBe(0);
    const text = io.stdout();
    expect(text).toContain("run 20240501-100000-aaaa  success");
    expect(text).toMatch(/^build {2}success {2}\d+ms {2}on local$/m);
    expect(text).toMatch(/^ {3}1\. install {2}success/m);
    expect(text).toMatch(/^ {3}2\. compile {2}success/m);
    expect(text).toMatch(/^ {2}artifact dist {2}[\d.]+ KiB {2}[0-9a-f]{12}$/m);
    const last = captureIo();
    await showCommand({ dir: repo, run: "last", json: true }, last, deps);
    expect(JSON.parse(last.stdout()).run.id).toBe("20240510-110000-bbcc");
  });

  it("says where a job's log was truncated (job.finished carries the log limit)", async () => {
    const store = await openStore({ repoDir: repo, env });
    const bus = new EventBus();
    const writer = createStoreWriter(store, { runId: "20240502-100000-cccc" });
    bus.subscribe(writer.onEvent);
    const plan = samplePlan("ci", [samplePlanJob("build", { steps: ["print"] })]);
    emitSampleRun(bus, "20240502-100000-cccc", plan, { t0: NOW - 1000, finish: false, linesPerStep: 1 });
    bus.emit("job.finished", {
      runId: "20240502-100000-cccc",
      ts: NOW - 200,
      jobId: "build",
      status: "success",
      attempts: 1,
      durationMs: 800,
      outputs: {},
      logLimit: 100 * 1024 * 1024,
      logTruncatedBytes: 2.5 * 1024 ** 3,
    });
    bus.emit("run.finished", { runId: "20240502-100000-cccc", ts: NOW - 100, status: "success", durationMs: 900 });
    await writer.close();
    expect((await store.jobs.list("20240502-100000-cccc"))[0]).toMatchObject({
      logLimit: 100 * 1024 * 1024,
      logTruncatedBytes: 2.5 * 1024 ** 3,
    });
    await store.close();
    const io = captureIo();
    expect(await showCommand({ dir: repo, run: "20240502" }, io, deps)).toBe(0);
    expect(io.stdout()).toMatch(/^ {2}log truncated after 100 MiB: 2\.5 GiB more output was not kept$/m);
  });

  it("says which runs an ambiguous prefix matches, and when nothing matches", async () => {
    await seed();
    const error = await showCommand({ dir: repo, run: "202405" }, captureIo(), deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GantryError);
    expect((error as GantryError).code).toBe("USAGE");
    expect((error as Error).message).toContain(
      '"202405" matches several runs (20240510-110000-bbcc, 20240509-100000-bbbb, 20240501-100000-aaaa)',
    );
    await expect(showCommand({ dir: repo, run: "1999" }, captureIo(), deps)).rejects.toThrow(
      /^no run matches "1999" in .*gantry\.db \(gantry runs lists them\)$/,
    );
  });
});

describe("gantry logs", () => {
  it("prints a run's lines by job and step; -j and --step select", async () => {
    await seed();
    const io = captureIo();
    await logsCommand({ dir: repo, run: "20240501", timestamps: false }, io, deps);
    const lines = io.stdout().trimEnd().split("\n");
    expect(lines.slice(0, 6)).toEqual([
      "── build · (job)",
      "[build] setting up build",
      "── build · 1. install",
      "[build] build/install line 0",
      "[build] build/install line 1",
      "[build] build/install line 2",
    ]);
    expect(lines).toContain("── test · 1. step");
    const step = captureIo();
    await logsCommand({ dir: repo, run: "20240501", job: "build", step: "2", timestamps: false }, step, deps);
    expect(step.stdout().trimEnd().split("\n")).toEqual([
      "── build · 2. compile",
      "build/compile line 0",
      "build/compile line 1",
      "build/compile line 2",
    ]);
    const byName = captureIo();
    await logsCommand({ dir: repo, run: "20240501", step: "compile", timestamps: false }, byName, deps);
    expect(byName.stdout()).toBe(step.stdout());
    await expect(logsCommand({ dir: repo, run: "20240501", job: "lint" }, captureIo(), deps)).rejects.toThrow(
      "-j lint: no such job in this run (jobs: build, test)",
    );
    await expect(logsCommand({ dir: repo, run: "20240501", step: "deploy" }, captureIo(), deps)).rejects.toThrow(
      /^--step deploy: no such step \(steps: 1\. install, 2\. compile, 1\. step\)$/,
    );
  });

  it("-f follows a run another connection is writing until it finishes", async () => {
    const writerStore = await openStore({ repoDir: repo, env });
    const bus = new EventBus();
    const writer = createStoreWriter(writerStore, { flushIntervalMs: 5 });
    bus.subscribe(writer.onEvent);
    const runId = "20240510-120000-ffff";
    const plan = samplePlan("ci", [samplePlanJob("build", { steps: ["long"] })]);
    bus.emit("run.started", { runId, plan, jobIds: ["build"] });
    bus.emit("job.started", { runId, jobId: "build", attempt: 1, executor: "local" });
    bus.emit("log", { runId, jobId: "build", stepIndex: 0, stream: "stdout", lines: ["first"] });
    await writer.flush();

    const io = captureIo();
    let printed = 0;
    const seen = new Promise<void>((resolve) => {
      const out = io.out;
      io.out = (t) => {
        out(t);
        printed += 1;
        if (printed === 1) resolve();
      };
    });
    const following = logsCommand({ dir: repo, run: runId, follow: true, timestamps: false }, io, { ...deps, pollMs: 10 });
    await seen;
    for (let i = 0; i < 50; i++) bus.emit("log", { runId, jobId: "build", stepIndex: 0, stream: "stdout", lines: [`more ${i}`] });
    await writer.flush();
    bus.emit("log", { runId, jobId: "build", stepIndex: 0, stream: "stderr", lines: ["last words"] });
    bus.emit("job.finished", { runId, jobId: "build", status: "success", attempts: 1, durationMs: 5, outputs: {} });
    bus.emit("run.finished", { runId, status: "success", durationMs: 9 });
    await writer.close();
    await writerStore.close();
    expect(await following).toBe(0);
    const lines = io.stdout().trimEnd().split("\n");
    expect(lines).toEqual(["── build · 1. long", "first", ...Array.from({ length: 50 }, (_, i) => `more ${i}`), "last words"]);
  });
});

describe("gantry artifacts", () => {
  it("lists a run's artifacts and extracts them with --out", async () => {
    await seed();
    const io = captureIo();
    await artifactsCommand({ dir: repo, run: "20240501" }, io, deps);
    expect(io.stdout()).toMatch(/^NAME {2}JOB {4}SIZE {5}HASH\ndist {2}build {2}[\d.]+ KiB {2}[0-9a-f]{12}\n$/);
    const out = join(repo, "out");
    const extract = captureIo();
    expect(await artifactsCommand({ dir: repo, run: "20240501", name: "dist", out }, extract, deps)).toBe(0);
    expect(readFileSync(join(out, "dist", "app.js"), "utf8")).toBe("console.log('hi')\n");
    await expect(artifactsCommand({ dir: repo, run: "20240501", name: "docs" }, captureIo(), deps)).rejects.toThrow(
      'run 20240501-100000-aaaa has no artifact named "docs" (it has: dist)',
    );
  });
});

describe("gantry artifacts --out and chained symlinks", () => {
  it("refuses a symlink that leaves the output directory through another symlink of the artifact, leaving nothing", async () => {
    // `sub/up -> ..` is the artifact's own directory; `esc -> sub/up/../../secret` looks like `evil/secret` but is outside --out.
    const file = join(repo, "evil.tar");
    await pipeline(
      buildTar([
        { name: "./", type: "directory", mode: 0o755 },
        { name: "sub/", type: "directory", mode: 0o755 },
        { name: "esc", type: "symlink", linkname: "sub/up/../../secret" },
        { name: "sub/up", type: "symlink", linkname: ".." },
      ]),
      createWriteStream(file),
    );
    const bytes = readFileSync(file);
    const store = await openStore({ repoDir: repo, env });
    const blob = { name: "evil", file, hash: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
    await record(store, "20240502-100000-cccc", { t0: NOW - 8 * DAY, blob });
    await store.close();
    const out = join(repo, "out");
    await expect(artifactsCommand({ dir: repo, run: "20240502", name: "evil", out }, captureIo(), deps)).rejects.toMatchObject({
      code: "PATH_ESCAPE",
      message: 'tar entry "esc": symlink to "sub/up/../../secret" resolves outside the output directory through the symlink "evil/sub/up"',
    });
    expect(existsSync(join(out, "evil"))).toBe(false);
  });
});

describe("gantry gc", () => {
  it("deletes old runs and the blobs only they used, keeps the rest", async () => {
    await seed();
    const io = captureIo();
    expect(await gcCommand({ dir: repo, keepDays: 7 }, io, { ...deps, blobGraceMs: 0 })).toBe(0);
    expect(io.stdout()).toMatch(/^deleted 1 run older than 7 days; removed 1 unreferenced blob \([\d.]+ KiB\)\n$/);
    const list = captureIo();
    await runsCommand({ dir: repo, json: true }, list, deps);
    expect((JSON.parse(list.stdout()) as Array<{ id: string }>).map((r) => r.id)).toEqual(["20240510-110000-bbcc", "20240509-100000-bbbb"]);
    await expect(gcCommand({ dir: repo, keepDays: -1 }, captureIo(), deps)).rejects.toThrow(
      "--keep-days: expected a number of days >= 0, got -1",
    );
  });
});
