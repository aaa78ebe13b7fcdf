import { describe, expect, test } from "vitest";
import { executors, job, sh, workflow } from "gantry";
import { Issues } from "../../src/core/issues.js";
import { expandMatrix, matrixEnv } from "../../src/core/matrix.js";
import { compile } from "./helpers.js";

function expand(def: unknown, limit?: number) {
  const issues = new Issues("f.ts");
  const result = expandMatrix(def, "m", issues, limit);
  return { combos: result?.combinations, issues: issues.list.map((i) => `${i.path}: ${i.message}`) };
}

describe("matrix expansion", () => {
  test("3x2 minus one exclude gives 5 jobs with stable ids, in axis order", () => {
    const w = workflow({
      name: "ci",
      jobs: {
        test: job({
          matrix: { node: ["18", "20", "22"], os: ["bookworm", "alpine"], exclude: [{ node: "18", os: "alpine" }] },
          steps: [sh`npm test`],
        }),
      },
    });
    const plan = compile(w);
    expect(plan.jobs.map((j) => j.id)).toEqual([
      "test (node=18, os=bookworm)",
      "test (node=20, os=bookworm)",
      "test (node=20, os=alpine)",
      "test (node=22, os=bookworm)",
      "test (node=22, os=alpine)",
    ]);
    expect(plan.jobs[2]!.matrix).toEqual({ node: "20", os: "alpine" });
    expect(plan.jobs[2]!.env).toEqual({ MATRIX_NODE: "20", MATRIX_OS: "alpine" });
    expect(compile(w).jobs.map((j) => j.hash)).toEqual(plan.jobs.map((j) => j.hash));
  });

  test("an exclude with fewer keys removes every combination it matches", () => {
    expect(expand({ a: [1, 2], b: ["x", "y"], exclude: [{ a: 1 }] }).combos).toEqual([
      { a: 2, b: "x" },
      { a: 2, b: "y" },
    ]);
  });

  test("include extends matching combinations and adds the others, like GitHub Actions", () => {
    const { combos, issues } = expand({
      fruit: ["apple", "pear"],
      animal: ["cat", "dog"],
      include: [
        { color: "green" },
        { color: "pink", animal: "cat" },
        { fruit: "apple", shape: "circle" },
        { fruit: "banana" },
        { fruit: "banana", animal: "cat" },
      ],
    });
    expect(issues).toEqual([]);
    expect(combos).toEqual([
      { fruit: "apple", animal: "cat", color: "pink", shape: "circle" },
      { fruit: "apple", animal: "dog", color: "green", shape: "circle" },
      { fruit: "pear", animal: "cat", color: "pink" },
      { fruit: "pear", animal: "dog", color: "green" },
      { fruit: "banana" },
      { fruit: "banana", animal: "cat" },
    ]);
  });

  test("a matrix of includes only", () => {
    expect(
      expand({
        include: [
          { os: "linux", arch: "x64" },
          { os: "mac", arch: "arm64" },
        ],
      }).combos,
    ).toEqual([
      { os: "linux", arch: "x64" },
      { os: "mac", arch: "arm64" },
    ]);
  });

  test("numbers and booleans, and their env", () => {
    const { combos } = expand({ shard: [1, 2], "use-cache": [true] });
    expect(combos).toEqual([
      { shard: 1, "use-cache": true },
      { shard: 2, "use-cache": true },
    ]);
    expect(matrixEnv(combos![0]!)).toEqual({ MATRIX_SHARD: "1", MATRIX_USE_CACHE: "true" });
  });

  test("problems", () => {
    expect(expand({}).issues).toEqual(['m: a matrix needs at least one axis, e.g. { node: ["20", "22"] }']);
    expect(expand({ a: [] }).issues).toEqual(["m: matrix expands to zero jobs (every combination is excluded, or an axis has no values)"]);
    expect(expand({ a: ["1", "1"] }).issues).toEqual(['m.a[1]: duplicate value "1"']);
    expect(expand({ a: [1], include: "x" }).issues).toEqual(['m.include: expected an array of objects, got "x"']);
    expect(expand({ a: [1], exclude: [{}] }).issues).toEqual(["m.exclude[0]: an empty entry matches nothing; remove it"]);
    expect(expand([1]).issues).toEqual(["m: a matrix must be an object of axes, got an array"]);
    expect(expand({ a: [1, 2, 3] }, 3).issues).toEqual([]);
  });

  test("needs on a matrix job means every expansion; factories get each combination", () => {
    const plan = compile(
      workflow({
        name: "ci",
        jobs: {
          test: job({
            matrix: { node: ["20", "22"] },
            executor: ({ matrix }) => executors.container({ image: `node:${matrix.node}` }),
            steps: ({ matrix }) => [sh`node${matrix.node} --version`],
          }),
          report: job({ needs: ["test"], steps: [sh`echo done`] }),
        },
      }),
    );
    const [t20, t22, report] = plan.jobs;
    expect(report!.needs).toEqual(["test (node=20)", "test (node=22)"]);
    expect(t20!.steps[0]!.run).toBe("node20 --version");
    expect(t22!.steps[0]!.run).toBe("node22 --version");
    expect(plan.executors[t20!.executor]!.options).toEqual({ image: "node:20" });
    expect(plan.executors[t22!.executor]!.options).toEqual({ image: "node:22" });
    expect(t20!.executor).toMatch(/^container-[0-9a-f]{8}$/);
  });
});
