/**
 * Pure graph renderers over compiled plans: longest-path layering, the
 * terminal drawing, DOT.
 */
import { describe, expect, it } from "vitest";
import { always, compileWorkflow, job, sh, workflow } from "gantry";
import { renderAscii } from "../../src/cli/graph/ascii.js";
import { renderDot } from "../../src/cli/graph/dot.js";
import { describeNeeds, layerJobs } from "../../src/cli/graph/layers.js";
import { colorEnabled } from "../../src/cli/io.js";

const bundle = "0".repeat(64);

const diamond = compileWorkflow(
  workflow({
    name: "diamond",
    jobs: {
      a: job({ steps: [sh`true`], outputs: { artifacts: { dist: "dist" } } }),
      b: job({ needs: ["a"], inputs: { artifacts: { dist: "dist" } }, steps: [sh`true`], outputs: { artifacts: { rb: "b.txt" } } }),
      c: job({ needs: ["a"], steps: [sh`true`] }),
      d: job({ needs: ["b", "c", "a"], if: always(), inputs: { artifacts: { rb: "reports/b" } }, steps: [sh`true`] }),
    },
  }),
  { file: "diamond.ts", bundle },
);

describe("layerJobs", () => {
  it("puts a job one level below its deepest need (longest path)", () => {
    const { levels, levelOf } = layerJobs(diamond);
    expect(levels.map((l) => l.map((j) => j.id))).toEqual([["a"], ["b", "c"], ["d"]]);
    expect(levelOf.get("d")).toBe(2);
  });

  it("layers a chain with a shortcut by the longest path", () => {
    const plan = compileWorkflow(
      workflow({
        name: "chain",
        jobs: {
          x: job({ steps: [sh`true`] }),
          y: job({ needs: ["x"], steps: [sh`true`] }),
          z: job({ needs: ["x", "y"], steps: [sh`true`] }),
        },
      }),
      { file: "chain.ts", bundle },
    );
    expect(layerJobs(plan).levels.map((l) => l.map((j) => j.id))).toEqual([["x"], ["y"], ["z"]]);
  });
});

describe("renderAscii", () => {
  it("draws the diamond level by level with labelled edges", () => {
    expect(renderAscii(diamond)).toBe(
      [
        "diamond (diamond.ts): 4 jobs in 3 levels",
        "",
        "level 1",
        "  a",
        "  ├─▶ b  (dist)",
        "  ├─▶ c",
        "  └─▶ d",
        "",
        "level 2",
        "  b",
        "  └─▶ d  (rb)",
        "  c",
        "  └─▶ d",
        "",
        "level 3",
        "  d  if always()",
        "",
      ].join("\n"),
    );
  });

  it("lists every matrix expansion and folds full fan-in in descriptions", () => {
    const plan = compileWorkflow(
      workflow({
        name: "m",
        jobs: {
          build: job({ steps: [sh`true`] }),
          test: job({ needs: ["build"], matrix: { node: ["18", "20"] }, steps: [sh`true`] }),
          report: job({ needs: ["test"], steps: [sh`true`] }),
        },
      }),
      { file: "m.ts", bundle },
    );
    const text = renderAscii(plan);
    expect(text).toContain("  build\n  ├─▶ test (node=18)\n  └─▶ test (node=20)\n");
    expect(text).toContain("level 2\n  test (node=18)\n  └─▶ report\n  test (node=20)\n  └─▶ report\n");
    expect(
      describeNeeds(
        plan,
        plan.jobs.find((j) => j.id === "report")!,
      ),
    ).toEqual(["test (all 2)"]);
  });
});

describe("renderDot", () => {
  it("writes a digraph with quoted ids and artifact labels", () => {
    const dot = renderDot(diamond);
    expect(dot.startsWith('digraph "diamond" {\n')).toBe(true);
    expect(dot).toContain('  "a" -> "b" [label="dist"];\n');
    expect(dot).toContain('  "b" -> "d" [label="rb"];\n');
    expect(dot).toContain('  "c" -> "d";\n');
    expect(dot).toContain('  "d" [label="d", style=dashed];\n');
    expect(dot.trimEnd().endsWith("}")).toBe(true);
  });
});

describe("colorEnabled", () => {
  it("is on only for a TTY and never with NO_COLOR set", () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({}, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
  });
});
