import { afterEach, describe, expect, it, vi } from "vitest";
import { createPrettyReporter } from "../../src/reporters/pretty.js";
import {
  createPalette,
  fitLine,
  formatElapsed,
  renderFinishedJob,
  renderFrame,
  renderRetry,
  renderSummary,
} from "../../src/reporters/pretty-render.js";
import { summarize } from "../../src/reporters/summary.js";
import { Collector, PLAN, T0, ev, scenario, stripAnsi } from "./fixtures.js";

const state = (n: number) => ({ run: summarize(scenario().slice(0, n)) });

describe("renderFrame", () => {
  it("shows one line per running job with spinner, elapsed time and current step, then the waiting count", () => {
    expect(renderFrame(state(4), T0 + 1130, 80)).toEqual(["⠹ build  1.0s  › npm ci", "· 2 waiting"]);
    expect(renderFrame(state(4), T0 + 1210, 80)[0]).toBe("⠸ build  1.1s  › npm ci");
  });

  it("shows the attempt of a retried job and a pending job retry", () => {
    const events = scenario().slice(0, 4);
    const retrying = summarize([...events, ev("job.retry", 500, { jobId: "build", attempt: 2, delayMs: 1000, reason: "x" })]);
    expect(renderFrame({ run: retrying }, T0 + 1000, 80)[0]).toBe("↻ build  0.9s  retry in 0.5s");
    const second = summarize([
      ...events,
      ev("job.retry", 500, { jobId: "build", attempt: 2, delayMs: 1000, reason: "x" }),
      ev("job.started", 1500, { jobId: "build", attempt: 2, executor: "local" }),
    ]);
    expect(renderFrame({ run: second }, T0 + 2130, 80)[0]).toBe("⠧ build  2.0s  attempt 2");
  });

  it("is empty when nothing runs or waits", () => {
    expect(renderFrame(state(scenario().length), T0 + 9999, 80)).toEqual([]);
  });

  it("cuts every line to the terminal width, even a very narrow one", () => {
    for (const columns of [1, 2, 5, 12, 20]) {
      for (const line of renderFrame(state(4), T0 + 1130, columns))
        expect(Array.from(line).length).toBeLessThanOrEqual(Math.max(1, columns - 1));
    }
    expect(renderFrame(state(4), T0 + 1130, 16)[0]).toBe("⠹ build  1.0s …");
  });

  it("cuts before colouring so escape codes are never split", () => {
    const p = createPalette(true);
    const line = renderFrame(state(4), T0 + 1130, 12, { palette: p })[0]!;
    expect(stripAnsi(line)).toBe("⠹ build  1…");
    expect(line).toContain("\x1b[");
    expect(line.split("\x1b[").length % 2).toBe(1);
  });

  it("limits the number of lines and counts the jobs left out", () => {
    const events = [ev("run.started", 0, { plan: PLAN, jobIds: ["build", "test", "deploy"] })];
    for (const jobId of ["build", "test", "deploy"]) events.push(ev("job.started", 0, { jobId, attempt: 1, executor: "local" }));
    const frame = renderFrame({ run: summarize(events) }, T0, 80, { maxLines: 2 });
    expect(frame).toEqual(["⠋ build  0.0s", "… 2 more running"]);
  });
});

describe("pure pieces", () => {
  it("fitLine keeps short lines and cuts long ones with an ellipsis", () => {
    expect(fitLine([["abc"], ["def"]], 10)).toBe("abcdef");
    expect(fitLine([["abc"], ["defghij"]], 8)).toBe("abcdef…");
    expect(fitLine([["✓✓✓✓"]], 3)).toBe("✓…");
  });

  it("formatElapsed has one decimal under a minute", () => {
    expect([formatElapsed(0), formatElapsed(1234), formatElapsed(59_990), formatElapsed(61_000)]).toEqual([
      "0.0s",
      "1.2s",
      "60.0s",
      "1m1s",
    ]);
  });

  it("renders a failed job with its failing step and the last 20 output lines", () => {
    const run = summarize(scenario());
    const tails = new Map([[0, Array.from({ length: 25 }, (_, i) => `out ${i + 1}`)]]);
    const lines = renderFinishedJob(run.jobs.get("test")!, tails, 80);
    expect(lines.slice(0, 3)).toEqual(["✗ test  1.7s", "  ✗ npm test  exit code 1", "    │ out 6"]);
    expect(lines).toHaveLength(22);
    expect(lines.at(-1)).toBe("    │ out 25");
  });

  it("renders success, skipped and retried jobs on one line", () => {
    const run = summarize(scenario());
    expect(renderFinishedJob(run.jobs.get("build")!, new Map(), 80)).toEqual(["✓ build  1.13s"]);
    expect(renderFinishedJob(run.jobs.get("deploy")!, new Map(), 80)).toEqual(["○ deploy  skipped  condition success() is false"]);
    const retried = summarize([ev("job.finished", 0, { jobId: "x", status: "success", attempts: 3, durationMs: 2500, outputs: {} })]);
    expect(renderFinishedJob(retried.jobs.get("x")!, new Map(), 80)).toEqual(["✓ x  2.5s  (3 attempts)"]);
  });

  it("shows job-level output when a job failed outside any step", () => {
    const run = summarize([
      ev("job.finished", 0, { jobId: "x", status: "failure", attempts: 1, durationMs: 10, outputs: {}, reason: "setupJob failed: boom" }),
    ]);
    expect(renderFinishedJob(run.jobs.get("x")!, new Map([[-1, ["mkdir: denied"]]]), 80)).toEqual([
      "✗ x  10ms  setupJob failed: boom",
      "    │ mkdir: denied",
    ]);
  });

  it("renders retry notes and the summary", () => {
    expect(renderRetry("test", "npm test", 2, 3, 400, "exit code 1", 80)).toBe("↻ test › npm test: retry 2/3 in 400ms: exit code 1");
    expect(renderSummary(summarize(scenario()), T0 + 5000)).toEqual([
      "",
      "JOB     STATUS     ATTEMPTS  DURATION",
      "build   ✓ success  1         1.13s",
      "test    ✗ failure  1         1.7s",
      "deploy  ○ skipped  -         -",
      "",
      "✗ run failure in 3.05s: 1 succeeded, 1 failed, 1 skipped",
    ]);
  });
});

describe("pretty reporter", () => {
  const saved = process.env.NO_COLOR;
  afterEach(() => {
    if (saved === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = saved;
  });

  it("ends with the summary and the failing step's output, and never shows passing output", async () => {
    delete process.env.NO_COLOR;
    const out = new Collector();
    out.columns = 100;
    const r = createPrettyReporter(out, { color: false, now: () => T0 + 3050, interval: 60_000 });
    for (const e of scenario()) r.onEvent(e);
    await r.close();
    const text = stripAnsi(out.text);
    expect(text).not.toMatch(/\x1b/);
    expect(text).toContain("✓ build  1.13s\n");
    expect(text).toContain("↻ test › npm test: retry 2/3 in 400ms: exit code 1\n");
    expect(text).toContain("✗ test  1.7s\n  ✗ npm test  exit code 1\n    │ line 6\n");
    expect(text).toContain("    │ line 25\n");
    expect(text).not.toContain("│ line 5\n");
    expect(text).not.toContain("FAIL a.test.js (first attempt)");
    expect(text).not.toContain("added 12 packages");
    expect(text).toContain("○ deploy  skipped");
    expect(text.trimEnd().split("\n").slice(-6)).toEqual([
      "JOB     STATUS     ATTEMPTS  DURATION",
      "build   ✓ success  1         1.13s",
      "test    ✗ failure  1         1.7s",
      "deploy  ○ skipped  -         -",
      "",
      "✗ run failure in 3.05s: 1 succeeded, 1 failed, 1 skipped",
    ]);
  });

  it("redraws the live area in place and erases it before permanent lines", async () => {
    delete process.env.NO_COLOR;
    // The redraw timer is driven by hand: each frame is checked right after the tick that paints it.
    vi.useFakeTimers();
    try {
      const out = new Collector();
      out.columns = 80;
      let now = T0 + 200;
      const r = createPrettyReporter(out, { color: false, now: () => now, interval: 5 });
      for (const e of scenario().slice(0, 4)) r.onEvent(e);
      await vi.advanceTimersByTimeAsync(5);
      expect(out.text).toContain("› npm ci");
      now = T0 + 1300;
      await vi.advanceTimersByTimeAsync(5);
      expect(out.text).toContain("1.2s  › npm ci");
      for (const e of scenario().slice(4, 11)) r.onEvent(e);
      await vi.advanceTimersByTimeAsync(5);
      expect(out.text).toContain("✓ build");
      const closing = r.close();
      await vi.runAllTimersAsync();
      await closing;
      const text = out.text;
      const erase = "\x1b[1A\x1b[2K";
      // The chunk that printed the finished job first erased both live lines (the job and the waiting count).
      const chunk = out.chunks.find((c) => c.includes("✓ build"))!;
      expect(chunk.startsWith(erase + erase)).toBe(true);
      expect(text.lastIndexOf("1.2s  › npm ci")).toBeLessThan(text.indexOf("✓ build"));
    } finally {
      vi.useRealTimers();
    }
  });

  it("colours through picocolors, and not when NO_COLOR is set", async () => {
    delete process.env.NO_COLOR;
    const coloured = new Collector();
    const a = createPrettyReporter(coloured, { color: true, now: () => T0, interval: 60_000 });
    for (const e of scenario()) a.onEvent(e);
    await a.close();
    expect(coloured.text).toMatch(/\x1b\[3\dm/);

    process.env.NO_COLOR = "1";
    const plain = new Collector();
    const b = createPrettyReporter(plain, { color: true, now: () => T0, interval: 60_000 });
    for (const e of scenario()) b.onEvent(e);
    await b.close();
    expect(plain.text).not.toMatch(/\x1b\[\d+m/);
  });

  it("fits status lines to a narrow terminal", async () => {
    delete process.env.NO_COLOR;
    const out = new Collector();
    const r = createPrettyReporter(out, { color: false, columns: 10, now: () => T0, interval: 60_000 });
    for (const e of scenario()) r.onEvent(e);
    await r.close();
    expect(out.text).toContain("✗ test  …\n");
    expect(out.text).toContain("↻ test ›…\n");
  });
});
