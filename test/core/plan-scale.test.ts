/**
 * Planning 10,000 jobs: the plan and the dry-run text are right (speed is
 * measured by `npm run bench plan`, never asserted here), and the graph
 * helpers that were quadratic keep their order rules.
 */
import { describe, expect, it } from "vitest";
import { job, sh, workflow } from "gantry";
import { findCycles, topologicalOrder } from "../../src/core/graph.js";
import { renderDryRun } from "../../src/cli/dry-run.js";
import { describeNeeds } from "../../src/cli/graph/layers.js";
import { compile } from "./helpers.js";

const N = 10_000;

function fanOut() {
  const jobs: Record<string, ReturnType<typeof job>> = { setup: job({ steps: [sh`echo setup`] }) };
  const names: string[] = [];
  // Defined in reverse so that the order of the plan is not just the order of definition.
  for (let i = N - 1; i >= 0; i--) {
    names.push(`j${i}`);
    jobs[`j${i}`] = job({ needs: ["setup"], steps: [sh`echo ${i}`] });
  }
  jobs.final = job({ needs: names as never, steps: [sh`echo done`] });
  return workflow({ name: "fan", jobs });
}

describe("a 10,000-job fan-out and fan-in", () => {
  it("plans every job once, needs first, siblings in definition order", () => {
    const plan = compile(fanOut());
    expect(plan.jobs).toHaveLength(N + 2);
    expect(plan.jobs[0]?.id).toBe("setup");
    expect(plan.jobs[N + 1]?.id).toBe("final");
    expect(plan.jobs.slice(1, 4).map((j) => j.id)).toEqual([`j${N - 1}`, `j${N - 2}`, `j${N - 3}`]);
    expect(new Set(plan.jobs.map((j) => j.id)).size).toBe(N + 2);
    expect(plan.jobs[N + 1]?.needs).toHaveLength(N);
    expect(plan.jobs.slice(1, N + 1).every((j) => j.needs.length === 1 && j.needs[0] === "setup")).toBe(true);
    const text = renderDryRun(plan, { keys: [], secretKeys: [] });
    expect(text).toContain(`${N + 2} of ${N + 2} jobs would run`);
    expect(text).toContain(`${N + 2}. final`);
    expect(text).toContain(`   needs:    j${N - 1}, j${N - 2}, `);
  });

  it("a 10,000-job chain with an artifact from the first to the last", () => {
    const jobs: Record<string, unknown> = {};
    for (let i = 0; i < N; i++) {
      jobs[`c${i}`] = job({
        needs: (i === 0 ? [] : [`c${i - 1}`]) as never,
        steps: [sh`echo ${i}`],
        ...(i === 0 ? { outputs: { artifacts: { a: "a" } } } : {}),
        ...(i === N - 1 ? { inputs: { artifacts: { a: "a" } } } : {}),
      });
    }
    const plan = compile(workflow({ name: "chain", jobs } as never));
    expect(plan.jobs.map((j) => j.id)).toEqual(Array.from({ length: N }, (_, i) => `c${i}`));
    expect(plan.jobs[N - 1]?.inputs.artifacts).toEqual([{ name: "a", path: "a", from: ["c0"] }]);
  });
});

describe("graph helpers", () => {
  it("topologicalOrder: ready jobs in definition order, repeated and unknown needs ignored, cycles left out", () => {
    const graph = new Map<string, string[]>([
      ["d", ["b", "b", "c"]],
      ["b", ["a", "zz"]],
      ["c", ["a"]],
      ["a", []],
      ["x", ["y"]],
      ["y", ["x"]],
      ["e", ["e"]],
    ]);
    expect(topologicalOrder(graph)).toEqual(["a", "b", "c", "d", "e"]);
    expect(findCycles(graph)).toEqual([["x", "y", "x"]]);
  });

  it("describeNeeds folds the expansions of a matrix job", () => {
    const plan = compile(
      workflow({
        name: "m",
        jobs: {
          t: job({ matrix: { n: [1, 2, 3] }, steps: [sh`true`] }),
          u: job({ steps: [sh`true`] }),
          r: job({ needs: ["t", "u"], steps: [sh`true`] }),
        },
      }),
    );
    expect(
      describeNeeds(
        plan,
        plan.jobs.find((j) => j.id === "r")!,
      ),
    ).toEqual(["t (all 3)", "u"]);
  });
});
