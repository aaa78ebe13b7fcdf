import { describe, expect, it } from "vitest";
import { compileWorkflow, executors, job, sh, workflow } from "gantry";
import { isWatchedPath, jobsToRerun } from "../../src/cli/watch.js";

const plan = (buildCmd: string) =>
  compileWorkflow(
    workflow({
      name: "w",
      jobs: {
        build: job({ steps: [sh(buildCmd)] }),
        test: job({ needs: ["build"], steps: [sh`true`] }),
        docs: job({ executor: executors.local({ name: "bare", copyRepo: false }), steps: [sh`true`] }),
      },
    }),
    { file: "w.ts", bundle: "0".repeat(64) },
  );
const green = { build: "success", test: "success", docs: "success" };

describe("gantry run --watch: what runs again", () => {
  it("a changed step reruns its job and its dependants only", () => {
    expect([...jobsToRerun(plan("make v2"), { plan: plan("make"), statuses: green }, [".gantry/w.ts"])].sort()).toEqual(["build", "test"]);
  });
  it("a changed repository file reruns the jobs that copy the repository", () => {
    expect([...jobsToRerun(plan("make"), { plan: plan("make"), statuses: green }, ["src/a.ts"])].sort()).toEqual(["build", "test"]);
  });
  it("nothing changed: only jobs that did not succeed run again", () => {
    expect([...jobsToRerun(plan("make"), { plan: plan("make"), statuses: { ...green, docs: "failure" } }, [])]).toEqual(["docs"]);
  });
  it("ignores state, git and node_modules", () => {
    expect([".gantry/state/gantry.db", ".git/index", "node_modules/x/y.js", "a/node_modules/b"].some(isWatchedPath)).toBe(false);
    expect(isWatchedPath("src/index.ts")).toBe(true);
  });
});
