/** `gantry rerun`'s refusals, through the command line against a real SQLite store: one sentence each, exit 1 or 2, no stack. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { captureIo } from "../support/io.js";
import { main } from "../../src/cli/main.js";
import { EventBus } from "../../src/core/events.js";
import { emitSampleRun, samplePlan } from "../../src/store/fixtures.js";
import { openStore } from "../../src/store/open.js";
import { createStoreWriter } from "../../src/store/writer.js";

let repo: string;
beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), "gantry-rerun-"));
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

async function rerun(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIo();
  const code = await main(["rerun", "-C", repo, ...args], io);
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

/** Record a run of the sample plan: finished or still running, with or without its artifact blob and bundle. */
async function record(runId: string, options: { finish?: boolean; artifact?: boolean; bundle?: boolean } = {}): Promise<void> {
  const store = await openStore({ repoDir: repo, env: {} });
  const bus = new EventBus();
  const writer = createStoreWriter(store, { runId, ...(options.bundle ? { bundleCode: () => "export default {}" } : {}) });
  bus.subscribe(writer.onEvent);
  emitSampleRun(bus, runId, samplePlan(), { finish: false });
  if (options.artifact) bus.emit("artifact.saved", { runId, jobId: "build", name: "dist", hash: "e".repeat(64), size: 3 });
  if (options.finish !== false) bus.emit("run.finished", { runId, status: "failure", durationMs: 5 });
  await writer.close();
  await store.close();
}

function oneSentence(result: { stderr: string }): string {
  const text = result.stderr.trim();
  expect(text.split("\n")).toHaveLength(1);
  expect(text).not.toMatch(/\n\s+at /);
  return text;
}

describe("gantry rerun: bad input", () => {
  it("no history yet, and an unknown run", async () => {
    const empty = await rerun("last");
    expect(empty.code).toBe(2);
    expect(oneSentence(empty)).toMatch(/^there are no runs in .*gantry\.db yet$/);
    await record("20240101-000000-aaaa", { bundle: true });
    const unknown = await rerun("zzz");
    expect(unknown.code).toBe(2);
    expect(oneSentence(unknown)).toMatch(/^no run matches "zzz" in .*gantry\.db \(gantry runs lists them\)$/);
  });

  it("a run still in progress", async () => {
    await record("20240101-000000-bbbb", { finish: false, bundle: true });
    const result = await rerun("20240101-000000-bbbb");
    expect(result.code).toBe(2);
    expect(oneSentence(result)).toBe(
      "run 20240101-000000-bbbb is still running; wait for it (gantry logs 20240101-000000-bbbb -f) before re-running it",
    );
  });

  it("a run whose workflow code is not stored", async () => {
    await record("20240101-000000-cccc");
    const result = await rerun("last", "--failed");
    expect(result.code).toBe(2);
    expect(oneSentence(result)).toMatch(
      /^run 20240101-000000-cccc has no stored workflow code \(bundle [0-9a-f]{12}\); it cannot be re-run$/,
    );
  });

  it("--failed when a reused job's artifact blob is gone", async () => {
    // The sample run: build succeeded (with an artifact whose blob was never stored), test failed.
    await record("20240101-000000-dddd", { artifact: true, bundle: true });
    const store = await openStore({ repoDir: repo, env: {} });
    await store.write([{ op: "job", job: { runId: "20240101-000000-dddd", jobId: "test", status: "failure" } }]);
    await store.close();
    const result = await rerun("last", "--failed");
    expect(result.code).toBe(1);
    expect(oneSentence(result)).toBe(
      `artifact "dist" of build in run 20240101-000000-dddd is no longer stored (blob eeeeeeeeeeee); run the whole workflow again`,
    );
  });
});
