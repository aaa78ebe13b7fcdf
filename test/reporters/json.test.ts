import { describe, expect, it } from "vitest";
import { createJsonReporter, toJsonLine, toJsonLineObject } from "../../src/reporters/json.js";
import { Collector, PLAN, T0, ev, scenario } from "./fixtures.js";

describe("json reporter", () => {
  it("writes one parseable JSON object per line, one line per event, type first", async () => {
    const out = new Collector();
    const r = createJsonReporter(out);
    const events = scenario();
    for (const e of events) r.onEvent(e);
    await r.close();
    const lines = out.text.split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(events.length);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.map((p) => p.type)).toEqual(events.map((e) => e.type));
    for (const l of lines) expect(l.startsWith('{"type":')).toBe(true);
  });

  it("replaces the plan of run.started by its workflow name and hash", () => {
    const line = JSON.parse(toJsonLine(scenario()[0]!)) as Record<string, unknown>;
    expect(line).toEqual({
      type: "run.started",
      runId: "r1",
      ts: T0,
      workflow: "ci",
      planHash: PLAN.hash,
      jobIds: ["build", "test", "deploy"],
    });
    expect(line).not.toHaveProperty("plan");
  });

  it("keeps every field of other events, and the log fast path matches the generic form", () => {
    for (const e of scenario().slice(1)) {
      expect(JSON.parse(toJsonLine(e))).toEqual(JSON.parse(JSON.stringify(toJsonLineObject(e))));
      expect(JSON.parse(toJsonLine(e))).toEqual({ ...e });
    }
    const tricky = ev("log", 1, { jobId: 'a "b"\n', stream: "stderr", lines: ["tab\there \u0000 \u2028 ✓"] });
    expect(JSON.parse(toJsonLine(tricky))).toEqual({ ...tricky });
    expect(toJsonLine(tricky).split("\n")).toHaveLength(2);
  });

  it("writes a batch of lines as one event with a `lines` array, escaping each line", () => {
    const batches = [["a", "b", "c"], ["", "x"], ['q"uote', "back\\slash", "ctl\u0001"], ["one"]];
    for (const lines of batches) {
      const e = ev("log", 1, { jobId: "j", stepIndex: 2, stream: "stdout", lines });
      const text = toJsonLine(e);
      expect(text.split("\n")).toHaveLength(2);
      expect(JSON.parse(text)).toEqual({ type: "log", runId: "r1", ts: T0 + 1, jobId: "j", stepIndex: 2, stream: "stdout", lines });
    }
  });
});
