/**
 * Output of real processes through the engine: back-pressure from a slow
 * sink pauses the process's output, and a job's log limit keeps a bounded
 * amount and says where it cut.
 */
import { afterAll, describe, expect, it } from "vitest";
import { BlobDir } from "../../src/store/blobs.js";
import { job, sh, workflow, type Workflow } from "../../src/core/definition.js";
import { EventBus, type GantryEvent } from "../../src/core/events.js";
import { compileWorkflow } from "../../src/compile.js";
import { runPlan } from "../../src/engine/run.js";
import { createLocalExecutor } from "../../src/executors/local/index.js";
import { removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

async function runLocal(wf: Workflow, bus: EventBus, logLimit?: number) {
  const baseDir = tempDir("gantry-flow-");
  return runPlan({
    plan: compileWorkflow(wf, { file: ".gantry/flow.ts", bundle: "bundle" }),
    workflow: wf,
    executorFor: (def) => createLocalExecutor(def, { baseDir, killGraceMs: 200 }),
    bus,
    runId: "flow-1",
    repoDir: tempDir("gantry-flow-repo-"),
    runDir: tempDir("gantry-flow-run-"),
    blobs: new BlobDir(tempDir("gantry-flow-run-")),
    env: { values: {}, secretValues: [] },
    processEnv: process.env,
    concurrency: 2,
    failFast: true,
    signal: new AbortController().signal,
    ...(logLimit !== undefined ? { logLimit } : {}),
  });
}

const bytesOf = (e: Extract<GantryEvent, { type: "log" }>): number => e.lines.reduce((n, l) => n + l.length + 1, 0);

describe("log output flow", () => {
  it("a sink that holds the bus pauses the process: little output arrives while it is held", async () => {
    // 20 MB of 100-character lines, as fast as the process can write them.
    const wf = workflow({
      name: "flow",
      jobs: { loud: job({ steps: [sh`head -c 20000000 /dev/zero | tr '\0' x | fold -w 99`] }) },
    });
    const bus = new EventBus();
    const holder = {};
    let held = false;
    let whileHeld = 0;
    let maxWhileHeld = 0;
    let total = 0;
    let holds = 0;
    bus.subscribe((e) => {
      if (e.type !== "log" || e.stream !== "stdout") return;
      total += bytesOf(e);
      if (held) {
        whileHeld += bytesOf(e);
        maxWhileHeld = Math.max(maxWhileHeld, whileHeld);
        return;
      }
      // A slow sink: hold on every 50th batch, for a few milliseconds.
      if (++holds % 50 !== 0) return;
      held = true;
      whileHeld = 0;
      bus.flow.hold(holder);
      setTimeout(() => {
        held = false;
        bus.flow.release(holder);
      }, 5);
    });
    const result = await runLocal(wf, bus);
    expect(result.status).toBe("success");
    expect(total).toBe(20_000_000 + Math.ceil(20_000_000 / 99));
    expect(holds).toBeGreaterThan(50);
    // Without the pause, a 5 ms hold lets megabytes through; with it, at most what was already read.
    expect(maxWhileHeld).toBeLessThanOrEqual(256 * 1024);
  }, 60_000);

  it("keeps a job's output up to its logLimit, counts the rest and says so", async () => {
    const wf = workflow({
      name: "limit",
      jobs: {
        big: job({ logLimit: "1MiB", steps: [sh`seq 1 1000000`, sh`echo after-the-limit`] }),
        small: job({ steps: [sh`seq 1 3`] }),
      },
    });
    const bus = new EventBus();
    const events: GantryEvent[] = [];
    bus.subscribe((e) => events.push(e));
    const result = await runLocal(wf, bus);
    expect(result.status).toBe("success");
    const logs = events.filter((e): e is Extract<GantryEvent, { type: "log" }> => e.type === "log" && e.jobId === "big");
    const kept = logs.filter((e) => e.stream === "stdout").reduce((n, e) => n + bytesOf(e), 0);
    // `seq 1 1000000` prints 6,888,896 bytes; 1 MiB of it is kept (the cut line may lose its end)
    expect(kept).toBeGreaterThanOrEqual(1024 * 1024);
    expect(kept).toBeLessThanOrEqual(1024 * 1024 + 1);
    const system = logs.filter((e) => e.stream === "system").flatMap((e) => e.lines);
    expect(system).toContain("log truncated after 1 MiB (the job's logLimit); further output is counted, not kept");
    expect(system).toContain(
      `log truncated after 1 MiB: ${((6_888_896 + 15 - 1024 * 1024) / 1024 / 1024).toFixed(1)} MiB more output was not kept`,
    );
    const stdout = logs.filter((e) => e.stream === "stdout").flatMap((e) => e.lines);
    expect(stdout).not.toContain("after-the-limit");
    // job.finished carries the cut (the store, `gantry show` and the API's run view have it from there)
    const finished = events.filter((e) => e.type === "job.finished");
    expect(finished.find((e) => e.jobId === "big")).toMatchObject({
      logLimit: 1024 * 1024,
      logTruncatedBytes: 6_888_896 + 16 - 1024 * 1024, // `seq` and "after-the-limit\n"
    });
    expect(finished.find((e) => e.jobId === "small")).not.toHaveProperty("logTruncatedBytes");
    // the other job is not affected
    const small = events.filter((e) => e.type === "log" && e.jobId === "small").flatMap((e) => (e.type === "log" ? e.lines : []));
    expect(small).toEqual(["1", "2", "3"]);
  }, 60_000);

  it("terminal control sequences in a process's output reach no sink: colours stay, the rest is removed", async () => {
    const wf = workflow({
      name: "controls",
      jobs: {
        tty: job({
          steps: [
            sh`printf 'copy\033]52;c;ZXZpbA==\007me\n\033]0;title\007\033[1A\033[2K[deploy] success\n\033[31mred\033[0m\n'`,
            sh`printf 'bidi \342\200\256txt.exe\nbar 10%%\rbar 100%%\n'`,
          ],
        }),
      },
    });
    const bus = new EventBus();
    const lines: string[] = [];
    bus.subscribe((e) => {
      if (e.type === "log" && e.stream === "stdout") lines.push(...e.lines);
    });
    await runLocal(wf, bus);
    expect(lines).toEqual(["copyme", "[deploy] success", "\x1b[31mred\x1b[0m", "bidi txt.exe", "bar 100%"]);
  }, 60_000);

  it("an invalid logLimit is a plan error naming the job", () => {
    const wf = workflow({ name: "bad", jobs: { big: job({ logLimit: "lots" as never, steps: [sh`true`] }) } });
    expect(() => compileWorkflow(wf, { file: ".gantry/bad.ts", bundle: "b" })).toThrow(/jobs\.big\.logLimit.*invalid size "lots"/s);
  });

  it("the run's logLimit (--log-limit) wins over the job's", async () => {
    const wf = workflow({ name: "limit", jobs: { big: job({ logLimit: "1MiB", steps: [sh`seq 1 1000`] }) } });
    const bus = new EventBus();
    const events: GantryEvent[] = [];
    bus.subscribe((e) => events.push(e));
    await runLocal(wf, bus, 1000);
    const lines = events.flatMap((e) => (e.type === "log" && e.stream === "system" ? e.lines : []));
    expect(lines).toContain("log truncated after 1000 B: 2.8 KiB more output was not kept"); // seq 1 1000: 3,893 bytes
  }, 60_000);
});
