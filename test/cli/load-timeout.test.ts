/**
 * Loading a workflow has a time limit (issue 11.4): a top-level await that
 * never settles, or top-level code that loops forever, ends the command with
 * exit 2 and one message naming the file and the limit, instead of Node's
 * silent exit 13 or a hang. Real CLI processes.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gantry, tempDir } from "./helpers.js";

const header = `import { job, sh, workflow } from "gantry";\n`;
const body = `export default workflow({ name: "w", jobs: { a: job({ steps: [sh\`echo loaded-ok\`] }) } });\n`;

function repoWith(name: string, topLevel: string): string {
  const dir = tempDir("load-limit");
  mkdirSync(join(dir, ".gantry"));
  writeFileSync(join(dir, ".gantry", name), header + topLevel + body);
  return dir;
}

describe("the load time limit", () => {
  it("rejects a workflow whose top-level await never settles: exit 2 and one sentence naming the file and the limit", async () => {
    const cwd = repoWith("never.ts", "await new Promise(() => {});\n");
    for (const command of [["validate", ".gantry/never.ts"], ["list"], ["run", "-f", ".gantry/never.ts"]]) {
      const r = await gantry(command, { cwd, env: { GANTRY_LOAD_TIMEOUT: undefined } });
      expect(r.code, `${command.join(" ")}: ${r.stderr}`).toBe(2);
      const output = r.stdout + r.stderr;
      expect(output).toContain(
        ".gantry/never.ts: the workflow's top-level await never settles (it waits on a promise nothing will resolve), so it cannot load; loading is limited to 30s (set GANTRY_LOAD_TIMEOUT",
      );
      expect(output).not.toMatch(/\n\s+at /);
    }
  });

  it("rejects a top-level await kept pending by a live timer once the configured limit passes", async () => {
    const cwd = repoWith("waits.ts", "await new Promise(() => { setInterval(() => {}, 1000); });\n");
    const r = await gantry(["validate", ".gantry/waits.ts"], { cwd, env: { GANTRY_LOAD_TIMEOUT: "300ms" } });
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain(
      ".gantry/waits.ts: the workflow did not finish loading within 300ms; its top-level code loops or waits forever (fix it, or raise the limit with GANTRY_LOAD_TIMEOUT",
    );
  });

  it("stops a workflow whose top-level code loops forever once the configured limit passes: exit 2, file and limit named", async () => {
    const cwd = repoWith("loop.ts", "while (true) {}\n");
    for (const command of [
      ["validate", ".gantry/loop.ts"],
      ["run", "-f", ".gantry/loop.ts"],
    ]) {
      const r = await gantry(command, { cwd, env: { GANTRY_LOAD_TIMEOUT: "500ms" } });
      expect(r.code, `${command.join(" ")}: ${r.stderr}`).toBe(2);
      const output = r.stdout + r.stderr;
      expect(output).toContain(
        ".gantry/loop.ts: the workflow did not finish loading within 500ms; its top-level code loops or waits forever",
      );
      expect(output).not.toMatch(/\n\s+at /);
    }
  });

  it("loads and runs a normal workflow under a short limit, its top-level output printed once", async () => {
    const cwd = repoWith("ok.ts", 'console.log("top-level-ran");\nawait new Promise((r) => setTimeout(r, 10));\n');
    const v = await gantry(["validate", ".gantry/ok.ts"], { cwd, env: { GANTRY_LOAD_TIMEOUT: "20s" } });
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout.split("top-level-ran").length - 1).toBe(1);
    const r = await gantry(["run", "-f", ".gantry/ok.ts"], { cwd, env: { GANTRY_LOAD_TIMEOUT: "20s" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("loaded-ok");
  });

  it("rejects a GANTRY_LOAD_TIMEOUT that is not a duration, naming the variable and value", async () => {
    const cwd = repoWith("ok.ts", "");
    const r = await gantry(["validate", ".gantry/ok.ts"], { cwd, env: { GANTRY_LOAD_TIMEOUT: "soon" } });
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toContain(
      'GANTRY_LOAD_TIMEOUT="soon" is not a duration; use for example GANTRY_LOAD_TIMEOUT=30s, 2m or 500ms',
    );
  });
});
