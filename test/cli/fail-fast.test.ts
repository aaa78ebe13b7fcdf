/**
 * The fail-fast default (issue 10): a failure skips only what needs the
 * failed job, as in GitHub Actions; `failFast: true` on the workflow or
 * `--fail-fast` skips the rest.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gantry, tempDir } from "./helpers.js";

function repo(workflowOptions: string): string {
  const dir = tempDir("failfast");
  mkdirSync(join(dir, ".gantry"), { recursive: true });
  writeFileSync(
    join(dir, ".gantry", "ci.ts"),
    `import { job, sh, workflow } from "gantry";
export default workflow({ name: "ci", ${workflowOptions} jobs: {
  types: job({ steps: [sh\`exit 1\`] }),
  lint: job({ needs: ["types"], steps: [sh\`echo lint\`] }),
  format: job({ needs: ["types"], if: { kind: "status", status: "always" }, steps: [sh\`echo format\`] }),
  unit: job({ steps: [sh\`echo unit\`] }),
  e2e: job({ needs: ["unit"], steps: [sh\`echo e2e\`] }),
} });
`,
  );
  return dir;
}

async function statuses(args: string[], dir: string): Promise<{ code: number | null; jobs: Record<string, string> }> {
  const r = await gantry(["run", "--log-format", "json", "--concurrency", "1", ...args], { cwd: dir });
  const jobs: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line) as { type: string; jobId?: string; status?: string };
    if (e.type === "job.finished" && e.jobId) jobs[e.jobId] = e.status ?? "";
  }
  return { code: r.code, jobs };
}

describe("fail-fast", () => {
  it("is off by default: independent jobs run to the end after a failure", async () => {
    const r = await statuses([], repo(""));
    expect(r.code).toBe(1);
    expect(r.jobs).toEqual({ types: "failure", lint: "skipped", format: "success", unit: "success", e2e: "success" });
  });

  it("--fail-fast skips every job not started yet", async () => {
    const r = await statuses(["--fail-fast"], repo(""));
    expect(r.code).toBe(1);
    expect(r.jobs).toEqual({ types: "failure", lint: "skipped", format: "success", unit: "skipped", e2e: "skipped" });
  });

  it("failFast: true on the workflow does the same, and --no-fail-fast overrides it", async () => {
    const dir = repo("failFast: true,");
    expect((await statuses([], dir)).jobs).toMatchObject({ unit: "skipped", e2e: "skipped" });
    expect((await statuses(["--no-fail-fast"], dir)).jobs).toMatchObject({ unit: "success", e2e: "success" });
  });
});
