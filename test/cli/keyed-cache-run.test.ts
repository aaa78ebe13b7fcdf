/**
 * A keyed cache saved by a job is restored by the jobs after it in the SAME
 * run (issue 10.6, found on commander.js: `install` saved node_modules, then
 * `unit` and `types` reported "not found" one second later).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gantry, tempDir } from "./helpers.js";

const deps = `caches: [{ key: ["deps", hashFiles("package-lock.json")], paths: ["node_modules"] }]`;
const workflow = `import { hashFiles, job, sh, workflow } from "gantry";
export default workflow({
  name: "commander",
  jobs: {
    install: job({ ${deps}, steps: [sh\`mkdir -p node_modules/dep && echo installed > node_modules/dep/index.js\`] }),
    unit: job({ needs: ["install"], ${deps}, steps: [sh\`cat node_modules/dep/index.js\`] }),
    types: job({ needs: ["install"], ${deps}, steps: [sh\`cat node_modules/dep/index.js\`] }),
    lint: job({ needs: ["install"], ${deps}, steps: [sh\`cat node_modules/dep/index.js\`] }),
  },
});
`;

describe("keyed caches within one run", () => {
  const dir = tempDir("keyed-cache");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the jobs after the one that saved the cache restore it on the first run", async () => {
    mkdirSync(join(dir, ".gantry"));
    writeFileSync(join(dir, ".gantry", "ci.ts"), workflow);
    writeFileSync(join(dir, "package-lock.json"), '{ "lockfileVersion": 3 }\n');
    const r = await gantry(["run", "--concurrency", "3"], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/install.*cache deps-[0-9a-f]{64}: not found/);
    expect(r.stdout).toMatch(/install.*cache deps-[0-9a-f]{64}: saved \(node_modules\)/);
    for (const job of ["unit", "types", "lint"]) {
      expect(r.stdout).toMatch(new RegExp(`${job}.*cache deps-[0-9a-f]{64}: restored \\(node_modules\\)`));
      expect(r.stdout).not.toMatch(new RegExp(`${job}.*not found`));
    }
    expect(r.stdout.match(/installed/g)).toHaveLength(3);
  });
});
