import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createPlainReporter } from "../../src/reporters/plain.js";
import { Collector, TAIL, ev, scenario } from "./fixtures.js";

const EXPECTED = [
  "10:00:00.000 [run] ci started: 3 jobs, plan 0123456789ab, run r1",
  "10:00:00.120 [executor local] ready in 120ms",
  "10:00:00.130 [build] started on local",
  "10:00:00.140 [build/npm ci] started",
  "10:00:00.150 [build/npm ci] added 12 packages",
  "10:00:01.140 [build/npm ci] success in 1s",
  "10:00:01.150 [build/npm run build] started",
  "10:00:01.200 [build/npm run build] built dist",
  "10:00:01.250 [build/npm run build] success in 100ms",
  "10:00:01.260 [build] saved artifact dist (2.0 KiB, abababababab)",
  "10:00:01.260 [build] success in 1.13s",
  "10:00:01.300 [test] started on local",
  "10:00:01.310 [test] restored artifact dist to dist/ (abababababab)",
  "10:00:01.320 [test/npm test] started",
  "10:00:01.400 [test/npm test] FAIL a.test.js (first attempt)",
  "10:00:01.500 [test/npm test] retry 2/3 in 400ms: exit code 1",
  "10:00:01.900 [test/npm test] attempt 2/3 started",
  ...TAIL.map((line, i) => `10:00:02.${String(i).padStart(3, "0")} [test/npm test] ${line}`),
  "10:00:03.000 [test/npm test] failure in 1.1s after 2 attempts (exit code 1)",
  '10:00:03.000 [test] failure in 1.7s: step "npm test" failed',
  "10:00:03.010 [deploy] skipped: condition success() is false",
  "10:00:03.040 [executor local] cleaned up in 30ms",
  "10:00:03.050 [run] failure in 3.05s",
  "",
  "JOB     STATUS   ATTEMPTS  DURATION",
  "build   success  1         1.13s",
  "test    failure  1         1.7s",
  "deploy  skipped  -         -",
  "run failure in 3.05s: 1 succeeded, 1 failed, 1 skipped",
  "",
];

describe("plain reporter", () => {
  it("writes exact timestamped lines, step/job finish lines, retries and the summary table", async () => {
    const out = new Collector();
    const r = createPlainReporter(out);
    for (const e of scenario()) r.onEvent(e);
    await r.close();
    expect(out.text.split("\n")).toEqual(EXPECTED);
  });

  it("writes no escape codes and only ASCII of its own", async () => {
    const out = new Collector();
    const r = createPlainReporter(out);
    for (const e of scenario()) r.onEvent(e);
    await r.close();
    expect(out.text).not.toMatch(/\x1b/);
    expect(out.text).toMatch(/^[\x20-\x7e\n]*$/);
  });

  it("batches lines into few writes instead of one per line", async () => {
    const out = new Collector();
    const r = createPlainReporter(out);
    for (let i = 0; i < 10_000; i++) r.onEvent(ev("log", i, { jobId: "build", stepIndex: 0, stream: "stdout", lines: [`line ${i}`] }));
    await r.close();
    expect(out.text.split("\n").length).toBe(10_001);
    expect(out.chunks.length).toBeLessThan(20);
  });

  it("waits for drain when the stream reports backpressure and loses nothing", async () => {
    const stream = new PassThrough({ highWaterMark: 1024 });
    const received: Buffer[] = [];
    const r = createPlainReporter(stream, { bufferSize: 4096 });
    for (let i = 0; i < 5000; i++) r.onEvent(ev("log", 0, { jobId: "j", stream: "stdout", lines: [`l${i}`] }));
    // Nobody reads yet: the first chunk fills the stream, the rest must wait in the buffer.
    expect(stream.writableNeedDrain).toBe(true);
    stream.on("data", (b: Buffer) => received.push(b));
    await r.close();
    const lines = Buffer.concat(received).toString("utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(5000);
    expect(lines[4999]).toMatch(/ \[j\] l4999$/);
  });

  it("prints the summary on close when run.finished never came, and ignores events after close", async () => {
    const out = new Collector();
    const r = createPlainReporter(out);
    for (const e of scenario().slice(0, 4)) r.onEvent(e);
    await r.close();
    r.onEvent(ev("log", 5, { jobId: "build", stream: "stdout", lines: ["late"] }));
    await r.close();
    expect(out.text).toContain("build   running");
    expect(out.text).toContain("run running: 1 running, 2 not started");
    expect(out.text).not.toContain("late");
  });

  it("shortens long step names in prefixes and uses job-level prefixes without a step", async () => {
    const out = new Collector();
    const r = createPlainReporter(out);
    const long = "x".repeat(60);
    r.onEvent(ev("step.started", 0, { jobId: "j", stepIndex: 0, name: long, attempt: 1 }));
    r.onEvent(ev("log", 1, { jobId: "j", stepIndex: 0, stream: "stdout", lines: ["a"] }));
    r.onEvent(ev("log", 2, { jobId: "j", stream: "system", lines: ["b"] }));
    await r.close();
    expect(out.text).toContain(`[j/${"x".repeat(37)}...] a`);
    expect(out.text).toContain("10:00:00.002 [j] b");
  });

  it("escapes control characters and bidi overrides in job ids and step names: one line per line", async () => {
    const out = new Collector();
    const r = createPlainReporter(out);
    const id = "build\n10:00:00.000 [deploy] success";
    r.onEvent(ev("job.started", 0, { jobId: id, attempt: 1, executor: "local\u202e" }));
    r.onEvent(ev("step.started", 0, { jobId: id, stepIndex: 0, name: "evil\u202etxt.exe\x1b]0;t\x07", attempt: 1 }));
    r.onEvent(ev("log", 1, { jobId: id, stepIndex: 0, stream: "stdout", lines: ["a", "b"] }));
    await r.close();
    const lines = out.text.split("\n").filter((l) => l !== "");
    expect(lines.slice(0, 4)).toEqual([
      "10:00:00.000 [build\\n10:00:00.000 [deploy] success] started on local\\u202e",
      "10:00:00.000 [build\\n10:00:00.000 [deploy] success/evil\\u202etxt.exe\\e]0;t\\u0007] started",
      "10:00:00.001 [build\\n10:00:00.000 [deploy] success/evil\\u202etxt.exe\\e]0;t\\u0007] a",
      "10:00:00.001 [build\\n10:00:00.000 [deploy] success/evil\\u202etxt.exe\\e]0;t\\u0007] b",
    ]);
    expect(out.text).not.toMatch(/[\u202e\x1b\x07]/);
  });
});
