/**
 * Every file in examples/invalid/ is rejected before anything runs: exit 2,
 * a message naming the file and the place in the definition (or the line),
 * and no stack trace.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gantry, repoRoot } from "./helpers.js";

/** file -> substrings the error must contain (besides the file name). */
const expected: Record<string, string[]> = {
  "absolute-artifact-path.ts": ["jobs.build.outputs.artifacts.dist", '"/tmp/dist" is absolute'],
  "bad-cron.ts": ["on.cron", '"61 * * * *"'],
  "bad-duration.ts": ["jobs.slow.timeout", '"15 mins"'],
  "cycle.ts": ["needs", "cycle", "a -> c -> b -> a"],
  "dotdot-artifact-path.ts": ["jobs.test.inputs.artifacts.dist", '"../dist"'],
  "duplicate-names.ts": ["jobs.build-mac.name", '"Build"'],
  "matrix-empty.ts": ["jobs.test.matrix", "zero jobs"],
  "matrix-too-large.ts": ["jobs.test.matrix", "400", "100"],
  "missing-artifact.ts": ["jobs.test.inputs.artifacts.dist", '"dist"'],
  "not-a-workflow.ts": ["default export is not a workflow", "found a job"],
  "required-env-missing.ts": ["env[0].names[0]", "GANTRY_EXAMPLE_DEPLOY_TOKEN"],
  "syntax-error.ts": ["examples/invalid/syntax-error.ts:8:3:", "Unexpected"],
  "throws-at-import.ts": ["examples/invalid/throws-at-import.ts:5:", "targets.json is missing"],
  "unknown-executor-option.ts": ["jobs.build.executor", '"copyrepo"', 'did you mean "copyRepo"'],
  "unknown-need.ts": ["jobs.test.needs[0]", '"biuld"', 'did you mean "build"'],
};

const env = { GANTRY_EXAMPLE_DEPLOY_TOKEN: undefined };

describe("examples/invalid", () => {
  it("has one expectation per file", () => {
    const files = readdirSync(join(repoRoot, "examples", "invalid"))
      .filter((f) => f.endsWith(".ts"))
      .sort();
    expect(files).toEqual(Object.keys(expected).sort());
  });

  for (const [name, parts] of Object.entries(expected)) {
    const file = `examples/invalid/${name}`;
    it(`validate rejects ${name} with exit 2 and a located message`, async () => {
      const r = await gantry(["validate", "-f", file], { env });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(file);
      for (const part of parts) expect(r.stderr).toContain(part);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      expect(r.stdout).not.toContain("ok");
    });
  }

  it("graph, list, build and run --dry-run reject an invalid file the same way", async () => {
    for (const command of [["graph"], ["list"], ["build", "--out", "/nonexistent/never-written"], ["run", "--dry-run"]]) {
      const r = await gantry([...command, "-f", "examples/invalid/unknown-need.ts"], { env });
      expect(r.code, command.join(" ")).toBe(2);
      expect(r.stderr).toContain('examples/invalid/unknown-need.ts: jobs.test.needs[0]: no job named "biuld" (did you mean "build"?)');
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it("validate reports every invalid file in one go", async () => {
    const files = Object.keys(expected).map((f) => `examples/invalid/${f}`);
    const r = await gantry(["validate", ...files], { env });
    expect(r.code).toBe(2);
    for (const file of files) expect(r.stderr).toContain(`invalid  ${file}`);
    expect(r.stderr).toContain(`${files.length} of ${files.length} workflow files are invalid`);
  });

  it("required env is satisfied by the environment", async () => {
    const r = await gantry(["validate", "-f", "examples/invalid/required-env-missing.ts"], { env: { GANTRY_EXAMPLE_DEPLOY_TOKEN: "x" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("the runtime error names the file and line of the throw, mapped through the source map", async () => {
    const r = await gantry(["graph", "-f", "examples/invalid/throws-at-import.ts"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("examples/invalid/throws-at-import.ts:5:9: error while loading the workflow: targets.json is missing");
  });
});
