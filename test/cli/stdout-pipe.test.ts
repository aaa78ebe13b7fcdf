/**
 * Commands finish writing to a pipe before they exit (issue 11.6): a slow
 * consumer gets every line, and a consumer that stops reading (`| head`)
 * ends the command quietly. Real pipes, through `sh`, with the built CLI.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliPath } from "../e2e/harness.js";

const LINES = 200_000;

function sh(script: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script], { cwd, env: { ...process.env, NO_COLOR: "1", CLI: cliPath, NODE: process.execPath } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("CLI output into pipes", () => {
  let dir: string;
  let runId: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "gantry-pipe-"));
    writeFileSync(
      join(dir, "workflow.ts"),
      `import { job, sh, workflow } from "gantry";\nexport default workflow({ name: "many", jobs: { big: job({ steps: [sh\`seq 1 ${LINES}\`] }) } });\n`,
    );
    const run = await sh(`"$NODE" "$CLI" run -f workflow.ts --log-format json > events.jsonl && head -1 events.jsonl`, dir);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    runId = (JSON.parse(run.stdout) as { runId: string }).runId;
  }, 120_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gantry logs writes every line to a slow consumer before it exits", async () => {
    // The reader starts reading only after a while: the pipe fills up and the CLI must wait for it.
    const r = await sh(`"$NODE" "$CLI" logs ${runId} --no-timestamps | { sleep 1; grep -c .; }; echo "status \${PIPESTATUS[0]}"`, dir);
    expect(r.stderr).toBe("");
    // the section header, then every line of `seq`
    expect(r.stdout).toBe(`${LINES + 1}\nstatus 0\n`);
  }, 120_000);

  it("a consumer that stops reading (| head) ends the command quietly", async () => {
    const r = await sh(`"$NODE" "$CLI" logs ${runId} --no-timestamps | head -3; echo "status \${PIPESTATUS[0]}"`, dir);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`── big · 1. seq 1 ${LINES}\n1\n2\nstatus 0\n`);
  }, 120_000);
});
