/**
 * `gantry init` in an empty directory: a working workflow, .gitignore
 * updated once, and no overwrite of an existing workflow.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { gantry, tempDir } from "./helpers.js";

describe("gantry init", () => {
  it("creates .gantry/ci.ts and .gitignore; the workflow validates, lists and graphs", async () => {
    const dir = tempDir("init");
    const r = await gantry(["init"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("created .gantry/ci.ts");
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe(".gantry/state/\n");
    const source = readFileSync(join(dir, ".gantry", "ci.ts"), "utf8");
    expect(source).toContain('from "gantry"');
    expect(source).toContain("executors.local()");

    const validate = await gantry(["validate"], { cwd: dir });
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/^ok {2}\.gantry\/ci\.ts \(workflow ci: 3 jobs, plan [0-9a-f]{12}\)$/m);

    const list = await gantry(["list", "--json"], { cwd: dir });
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as Array<{ name: string; jobs: Array<{ id: string; needs: string[] }> }>;
    expect(listed.map((w) => w.name)).toEqual(["ci"]);
    expect(listed[0]!.jobs.map((j) => [j.id, j.needs])).toEqual([
      ["build", []],
      ["test", ["build"]],
      ["report", ["test"]],
    ]);

    const graph = await gantry(["graph"], { cwd: dir });
    expect(graph.code).toBe(0);
    expect(graph.stdout).toContain("└─▶ test  (build)");
    // state stays inside the ignored folder
    expect(existsSync(join(dir, ".gantry", "state", "bundles"))).toBe(true);
  });

  it("appends to an existing .gitignore once, adding the missing newline", async () => {
    const dir = tempDir("init-gitignore");
    writeFileSync(join(dir, ".gitignore"), "node_modules/");
    expect((await gantry(["init"], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe("node_modules/\n.gantry/state/\n");
  });

  it("refuses to overwrite an existing .gantry/ci.ts (exit 2) and leaves it and .gitignore alone", async () => {
    const dir = tempDir("init-twice");
    expect((await gantry(["init", "-C", dir])).code).toBe(0);
    writeFileSync(join(dir, ".gantry", "ci.ts"), "// mine\n");
    const again = await gantry(["init"], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(".gantry/ci.ts already exists");
    expect(again.stderr).not.toMatch(/^\s+at /m);
    expect(readFileSync(join(dir, ".gantry", "ci.ts"), "utf8")).toBe("// mine\n");
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toBe(".gantry/state/\n");
  });
});
