/**
 * The loader: esbuild bundles stored by content hash, portable across
 * machines (the hash does not depend on where the repository or Gantry is),
 * imported so that `gantry` is this process's own module instance.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { sh } from "gantry";
import { RUNTIME_PLACEHOLDER, runtimeEntryUrls } from "../../src/loader/bundle.js";
import { discoverWorkflows, loadBundle, loadWorkflowFile } from "../../src/loader/load.js";
import { gantry, repoRoot, tempDir } from "./helpers.js";

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

function repoWith(files: Record<string, string>): string {
  const dir = tempDir("loader");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const simple = (name: string): string => `import { job, sh, workflow } from "gantry";
export const shFromBundle = sh;
export default workflow({ name: ${JSON.stringify(name)}, jobs: { a: job({ steps: [sh\`echo ${name}\`] }) } });
`;

describe("loadWorkflowFile", () => {
  it("stores the bundle by the hash of its portable text and imports it", async () => {
    const state = tempDir("state");
    const loaded = await loadWorkflowFile("examples/diamond.ts", { repoDir: repoRoot, stateDir: state });
    expect(loaded.file).toBe("examples/diamond.ts");
    expect(loaded.workflow.name).toBe("diamond");
    expect(Object.keys(loaded.workflow.jobs)).toEqual(["a", "b", "c", "d"]);
    expect(loaded.bundleHash).toMatch(/^[0-9a-f]{64}$/);
    expect(sha256(loaded.source)).toBe(loaded.bundleHash);
    expect(loaded.bundlePath).toBe(join(state, "bundles", `${loaded.bundleHash}.mjs`));
    // portable text: placeholder, no machine paths; materialised file: this Gantry's entry URL
    expect(loaded.source).toContain(`"${RUNTIME_PLACEHOLDER}/index"`);
    expect(loaded.source).not.toContain(repoRoot);
    const stored = readFileSync(loaded.bundlePath, "utf8");
    expect(stored).not.toContain(RUNTIME_PLACEHOLDER);
    expect(stored).toContain(JSON.stringify(runtimeEntryUrls().index));
  });

  it("gives the same hash for the same file twice, and for the same content in another directory", async () => {
    const one = repoWith({ ".gantry/ci.ts": simple("same") });
    const two = repoWith({ ".gantry/ci.ts": simple("same") });
    const a = await loadWorkflowFile(".gantry/ci.ts", { repoDir: one });
    const b = await loadWorkflowFile(".gantry/ci.ts", { repoDir: one });
    const c = await loadWorkflowFile(".gantry/ci.ts", { repoDir: two });
    expect(b.bundleHash).toBe(a.bundleHash);
    expect(c.bundleHash).toBe(a.bundleHash);
    expect(a.bundlePath).toBe(join(one, ".gantry", "state", "bundles", `${a.bundleHash}.mjs`));
  });

  it("gives a different hash when the content changes", async () => {
    const dir = repoWith({ ".gantry/ci.ts": simple("first") });
    const a = await loadWorkflowFile(".gantry/ci.ts", { repoDir: dir });
    writeFileSync(join(dir, ".gantry/ci.ts"), simple("second"));
    const b = await loadWorkflowFile(".gantry/ci.ts", { repoDir: dir });
    expect(b.bundleHash).not.toBe(a.bundleHash);
    expect(b.workflow.name).toBe("second");
  });

  it("resolves gantry to this process's own module instance", async () => {
    const dir = repoWith({ ".gantry/ci.ts": simple("instance") });
    const loaded = await loadWorkflowFile(".gantry/ci.ts", { repoDir: dir });
    const mod = (await import(pathToFileURL(loaded.bundlePath).href)) as { shFromBundle: unknown };
    expect(mod.shFromBundle).toBe(sh);
  });

  it("bundles npm packages from node_modules (CommonJS too) and keeps Node built-ins external", async () => {
    const dir = repoWith({
      "node_modules/left-pad-ish/package.json": JSON.stringify({ name: "left-pad-ish", main: "index.js" }),
      "node_modules/left-pad-ish/index.js": 'const path = require("node:path");\nmodule.exports = (s) => path.posix.join("pad", s);\n',
      ".gantry/ci.ts": `import pad from "left-pad-ish";
import { job, sh, workflow } from "gantry";
export default workflow({ name: pad("x"), jobs: { a: job({ steps: [sh\`true\`] }) } });
`,
    });
    const loaded = await loadWorkflowFile(".gantry/ci.ts", { repoDir: dir });
    expect(loaded.workflow.name).toBe("pad/x");
    expect(loaded.source).toContain("module.exports = (s) =>");
    expect(loaded.source).not.toMatch(/from "left-pad-ish"/);
  });

  it("loadBundle imports a stored bundle by hash", async () => {
    const dir = repoWith({ ".gantry/ci.ts": simple("by-hash") });
    const loaded = await loadWorkflowFile(".gantry/ci.ts", { repoDir: dir });
    const workflow = await loadBundle(loaded.bundleHash, join(dir, ".gantry", "state"));
    expect(workflow.name).toBe("by-hash");
    await expect(loadBundle("f".repeat(64), join(dir, ".gantry", "state"))).rejects.toMatchObject({ code: "LOAD_FAILED" });
  });

  it("reports a missing file, a syntax error and a throw at import as LOAD_FAILED naming the file", async () => {
    const dir = repoWith({
      ".gantry/broken.ts": 'import { workflow } from "gantry";\nexport default workflow({ name: "x", jobs: { } ;\n',
      ".gantry/throws.ts":
        'import { workflow } from "gantry";\nconst n: number = 1;\nif (n === 1) throw new TypeError("boom at import");\nexport default workflow({ name: "x", jobs: {} });\n',
    });
    await expect(loadWorkflowFile(".gantry/nope.ts", { repoDir: dir })).rejects.toMatchObject({
      code: "LOAD_FAILED",
      message: ".gantry/nope.ts: no such file",
    });
    await expect(loadWorkflowFile(".gantry/broken.ts", { repoDir: dir })).rejects.toMatchObject({
      code: "LOAD_FAILED",
      message: expect.stringMatching(/^\.gantry\/broken\.ts:2:\d+: /),
    });
    await expect(loadWorkflowFile(".gantry/throws.ts", { repoDir: dir })).rejects.toMatchObject({
      code: "LOAD_FAILED",
      // the line is checked through the built CLI below (vitest's module runner rewrites stacks in-process)
      message: expect.stringMatching(/^\.gantry\/throws\.ts(:3:\d+)?: error while loading the workflow: TypeError: boom at import$/),
    });
  });
});

describe("discoverWorkflows", () => {
  it("lists .gantry/*.ts sorted, without .d.ts and other files", async () => {
    const dir = repoWith({
      ".gantry/b.ts": "",
      ".gantry/a.ts": "",
      ".gantry/types.d.ts": "",
      ".gantry/notes.md": "",
      ".gantry/sub/c.ts": "",
    });
    expect(await discoverWorkflows(dir)).toEqual([".gantry/a.ts", ".gantry/b.ts"]);
    expect(await discoverWorkflows(tempDir("empty"))).toEqual([]);
  });
});

describe("gantry build (built CLI)", () => {
  it("writes plan.json and the portable bundle named by its hash; the same input gives the same hashes", async () => {
    const out1 = tempDir("build1");
    const out2 = tempDir("build2");
    const copy = tempDir("copy");
    // the same file at the same relative path in another directory (another machine, as far as paths go)
    cpSync(join(repoRoot, "examples", "matrix.ts"), join(copy, "examples", "matrix.ts"));
    const r1 = await gantry(["build", "-f", "examples/matrix.ts", "--out", out1]);
    const r2 = await gantry(["build", "-f", "examples/matrix.ts", "--out", out2], { cwd: copy });
    expect(r1.code, r1.stderr).toBe(0);
    expect(r2.code, r2.stderr).toBe(0);
    const plan1 = JSON.parse(readFileSync(join(out1, "plan.json"), "utf8")) as {
      bundle: string;
      hash: string;
      jobs: unknown[];
      workflow: { file: string };
    };
    const plan2 = JSON.parse(readFileSync(join(out2, "plan.json"), "utf8")) as { bundle: string; hash: string };
    expect(plan1.jobs).toHaveLength(6);
    expect(plan1.workflow.file).toBe("examples/matrix.ts");
    expect(plan2.bundle).toBe(plan1.bundle);
    expect(sha256(readFileSync(join(out1, `${plan1.bundle}.mjs`), "utf8"))).toBe(plan1.bundle);
    expect(plan2.hash).toBe(plan1.hash);
    expect(r1.stdout).toContain(`bundle ${plan1.bundle.slice(0, 12)}`);
  });

  it("maps a throw at import to the TypeScript line through the source map", async () => {
    const dir = repoWith({
      ".gantry/throws.ts":
        'import { workflow } from "gantry";\ntype T = { n: number };\nconst t: T = { n: 1 };\n\nif (t.n === 1) throw new TypeError("boom at import");\nexport default workflow({ name: "x", jobs: {} });\n',
    });
    const r = await gantry(["validate"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(".gantry/throws.ts:5:22: error while loading the workflow: TypeError: boom at import");
  });
});
