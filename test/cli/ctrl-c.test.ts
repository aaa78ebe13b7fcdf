/**
 * Ctrl-C on a real `gantry run`: the first cancels (SIGTERM to the steps),
 * the second kills at once; the run is recorded `cancelled`, as the docs say,
 * with exit code 130.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processAlive } from "../../src/executors/shared/process.js";
import { cliPath, gantry, repoRoot, tempDir } from "./helpers.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function repo(script: string): { repo: string; tmp: string } {
  const dir = tempDir("ctrl-c");
  const tmp = tempDir("ctrl-c-tmp");
  dirs.push(dir, tmp);
  mkdirSync(join(dir, ".gantry"));
  writeFileSync(
    join(dir, ".gantry", "ci.ts"),
    `import { job, sh, workflow } from "gantry";\nexport default workflow({ name: "ctrl-c", jobs: { wait: job({ steps: [sh(${JSON.stringify(script)})] }) } });\n`,
  );
  return { repo: dir, tmp };
}

/** Start `gantry run`, send SIGINT `times` times (each after the previous was acknowledged), wait for the exit. */
function interrupt(dir: string, tmp: string, times: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, "run", "--log-format", "plain"], {
      cwd: dir,
      env: { ...process.env, NO_COLOR: "1", TMPDIR: tmp },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let stderr = "";
    let sent = 0;
    const send = (): void => {
      sent++;
      child.kill("SIGINT");
    };
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (sent === 0 && out.includes("step-ready")) send();
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (sent === 1 && times > 1 && stderr.includes("cancelling the run")) send();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("Ctrl-C", () => {
  it("records a cancelled run as cancelled, as docs/events.md says, exit 130", async () => {
    const { repo: dir, tmp } = repo("echo step-ready; sleep 300");
    const { code } = await interrupt(dir, tmp, 1);
    expect(code).toBe(130);
    const runs = await gantry(["runs", "--json"], { cwd: dir });
    expect(JSON.parse(runs.stdout)).toMatchObject([{ status: "cancelled" }]);
    const events = readFileSync(join(repoRoot, "docs", "events.md"), "utf8");
    const statusRow = events.split("\n").find((l) => l.startsWith("| `status`"));
    expect(statusRow).toMatch(/`cancelled` \([^)]*Ctrl-C/);
    expect(statusRow).not.toMatch(/`interrupted` \([^)]*Ctrl-C/);
  });

  it("the second Ctrl-C kills a step that ignores SIGTERM at once", async () => {
    const pidFile = join(tempDir("ctrl-c-pid"), "pid");
    dirs.push(join(pidFile, ".."));
    const { repo: dir, tmp } = repo(`trap '' TERM; sleep 300 & echo $! > ${pidFile}; echo step-ready; wait`);
    const { code, stderr } = await interrupt(dir, tmp, 2);
    expect(stderr).toContain("stopping now");
    expect(code).toBe(130);
    expect(processAlive(Number(readFileSync(pidFile, "utf8")))).toBe(false);
  });
});
