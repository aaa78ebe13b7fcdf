import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GantryError } from "../../src/core/errors.js";
import { createRunLog } from "../../src/reporters/run-log.js";
import { ev, scenario } from "./fixtures.js";

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "gantry-runlog-"));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("run log", () => {
  it("writes events.jsonl and one plain log per job, complete when close resolves", async () => {
    const dir = join(root, "runs", "r1");
    const log = createRunLog(dir);
    const events = scenario();
    for (const e of events) log.onEvent(e);
    await log.close();

    expect((await readdir(dir)).sort()).toEqual(["build.log", "deploy.log", "events.jsonl", "test.log"]);
    const jsonl = (await readFile(join(dir, "events.jsonl"), "utf8")).trimEnd().split("\n");
    expect(jsonl).toHaveLength(events.length);
    expect(jsonl.map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(events.map((e) => e.type));
    expect(JSON.parse(jsonl[0]!)).toMatchObject({ type: "run.started", workflow: "ci" });

    expect(await readFile(join(dir, "build.log"), "utf8")).toBe(
      [
        "10:00:00.130 [build] started on local",
        "10:00:00.140 [build/npm ci] started",
        "10:00:00.150 [build/npm ci] added 12 packages",
        "10:00:01.140 [build/npm ci] success in 1s",
        "10:00:01.150 [build/npm run build] started",
        "10:00:01.200 [build/npm run build] built dist",
        "10:00:01.250 [build/npm run build] success in 100ms",
        "10:00:01.260 [build] saved artifact dist (2.0 KiB, abababababab)",
        "10:00:01.260 [build] success in 1.13s",
        "",
      ].join("\n"),
    );
    const test = await readFile(join(dir, "test.log"), "utf8");
    expect(test).toContain("[test/npm test] line 25\n");
    expect(test).toContain("[test/npm test] retry 2/3 in 400ms: exit code 1\n");
    expect(test).not.toContain("[build");
    expect(test).not.toContain("[run]");
    expect(await readFile(join(dir, "deploy.log"), "utf8")).toBe("10:00:03.010 [deploy] skipped: condition success() is false\n");
    expect(log.jobFiles.get("test")).toBe("test.log");
  });

  it("slugs job ids into file names and de-duplicates clashing slugs", async () => {
    const log = createRunLog(root);
    const ids = ["test (node=20, os=bookworm)", "test (node=20/os=bookworm)", "../../etc", "events"];
    for (const jobId of ids) log.onEvent(ev("log", 0, { jobId, stream: "stdout", lines: [`hello ${jobId}`] }));
    await log.close();
    expect(ids.map((id) => log.jobFiles.get(id))).toEqual([
      "test-node-20-os-bookworm.log",
      "test-node-20-os-bookworm-2.log",
      "etc.log",
      "events.log",
    ]);
    expect(await readFile(join(root, "test-node-20-os-bookworm-2.log"), "utf8")).toBe(
      "10:00:00.000 [test (node=20/os=bookworm)] hello test (node=20/os=bookworm)\n",
    );
  });

  it("appends when a finished job's file is needed again", async () => {
    const log = createRunLog(root);
    log.onEvent(ev("job.finished", 0, { jobId: "a", status: "success", attempts: 1, durationMs: 5, outputs: {} }));
    log.onEvent(ev("log", 1, { jobId: "a", stream: "system", lines: ["late line"] }));
    await log.close();
    expect(await readFile(join(root, "a.log"), "utf8")).toBe("10:00:00.000 [a] success in 5ms\n10:00:00.001 [a] late line\n");
  });

  it("keeps a job's lines in order when more come while its finished file is still being written", async () => {
    const log = createRunLog(root);
    const n = 100_000;
    for (let i = 0; i < n; i += 1000) {
      const lines = Array.from({ length: 1000 }, (_, j) => `line ${i + j} ${"x".repeat(50)}`);
      log.onEvent(ev("log", 0, { jobId: "a", stepIndex: 0, stream: "stdout", lines }));
    }
    log.onEvent(ev("job.finished", 0, { jobId: "a", status: "success", attempts: 1, durationMs: 5, outputs: {} }));
    log.onEvent(ev("log", 1, { jobId: "a", stream: "system", lines: ["late line"] }));
    await log.close();
    const lines = (await readFile(join(root, "a.log"), "utf8")).trimEnd().split("\n");
    expect(lines).toHaveLength(n + 2);
    expect(lines.slice(-2)).toEqual(["10:00:00.000 [a] success in 5ms", "10:00:00.001 [a] late line"]);
  });

  it("writes large volumes completely", async () => {
    const log = createRunLog(root);
    const n = 50_000;
    for (let i = 0; i < n; i++)
      log.onEvent(ev("log", 0, { jobId: "big", stepIndex: 0, stream: "stdout", lines: [`line ${i} ${"x".repeat(50)}`] }));
    await log.close();
    const lines = (await readFile(join(root, "big.log"), "utf8")).trimEnd().split("\n");
    expect(lines).toHaveLength(n);
    expect(lines[n - 1]).toContain(`line ${n - 1} `);
    expect((await readFile(join(root, "events.jsonl"), "utf8")).trimEnd().split("\n")).toHaveLength(n);
  });

  it("fails clearly when the directory cannot be created", async () => {
    const file = join(root, "a-file");
    await writeFile(file, "x");
    expect(() => createRunLog(join(file, "runs"))).toThrow(GantryError);
    expect(() => createRunLog(join(file, "runs"))).toThrow(/cannot create the run log directory .*a-file\/runs/);
  });
});
