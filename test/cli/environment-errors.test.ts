/**
 * The machine in the way, through the real CLI: a `.gantry` or
 * `.gantry/state` that is a file, a directory this user cannot write, a
 * `--dir` that does not exist. Each gives one sentence naming the path and
 * what to do, never "unexpected error" and a stack. And a throwing
 * TypeScript step shows the user's own frames, not Gantry's or Node's.
 */
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeSystemError } from "../../src/cli/environment.js";
import { requireService } from "../support/services.js";
import { cliPath, gantry, tempDir, type CliResult } from "./helpers.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const WORKFLOW = `import { job, sh, workflow } from "gantry";
export default workflow({ name: "ci", jobs: { a: job({ steps: [sh\`echo hi\`] }) } });
`;

function repo(prefix: string, workflowText = WORKFLOW): string {
  const dir = tempDir(prefix);
  dirs.push(dir);
  mkdirSync(join(dir, ".gantry"));
  writeFileSync(join(dir, ".gantry", "ci.ts"), workflowText);
  return dir;
}

/** One or two sentences on stderr, no stack frame, not reported as a bug. */
function expectClear(r: CliResult, code: number, ...needles: string[]): void {
  const all = r.stdout + r.stderr;
  expect(r.code, all).toBe(code);
  expect(all).not.toMatch(/^\s+at .+[:(]\d+/m);
  expect(all).not.toContain("unexpected error");
  expect(all).not.toMatch(/\bE[A-Z]{3,}\b: /); // no raw "ENOTDIR: not a directory, mkdir ..."
  for (const needle of needles) expect(r.stderr).toContain(needle);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
}

describe("the machine in the way", () => {
  it(".gantry/state is a file: run, validate and the history commands say so", async () => {
    const dir = repo("state-file");
    writeFileSync(join(dir, ".gantry", "state"), "not a directory\n");
    const sentence =
      ".gantry/state is a file, but gantry needs a directory there (its runs, bundles and state database live in .gantry/state); move or remove that file";
    for (const args of [["run"], ["validate"], ["runs"], ["show", "last"]]) {
      expectClear(await gantry(args, { cwd: dir }), 1, sentence);
    }
  });

  it(".gantry is a file: run and list say so", async () => {
    const dir = tempDir("gantry-file");
    dirs.push(dir);
    writeFileSync(join(dir, ".gantry"), "");
    const sentence =
      ".gantry is a file, but gantry needs a directory there (workflows live in .gantry/*.ts, its state in .gantry/state); move or remove that file";
    expectClear(await gantry(["run"], { cwd: dir }), 1, sentence);
    expectClear(await gantry(["list"], { cwd: dir }), 1, sentence);
  });

  it("--dir that does not exist: exit 2, and nothing is created there", async () => {
    const base = tempDir("no-dir");
    dirs.push(base);
    const missing = join(base, "typo");
    for (const args of [["run"], ["runs"], ["validate"]]) {
      expectClear(await gantry([...args, "--dir", missing], { cwd: base }), 2, `--dir ${missing}: ${missing} does not exist`);
    }
    expect(existsSync(missing)).toBe(false);
  });

  it("a repository this user cannot write: names the directory and what to do", async (ctx) => {
    const missing = await requireService("root", "the unwritable-directory CLI test (it runs gantry as nobody)");
    ctx.skip(missing !== undefined, missing);
    const dir = repo("readonly");
    chmodSync(dir, 0o755);
    chmodSync(join(dir, ".gantry"), 0o755);
    chownSync(join(dir, ".gantry", "ci.ts"), 65534, 65534);
    const child = spawn(process.execPath, [cliPath, "run"], {
      cwd: dir,
      uid: 65534,
      gid: 65534,
      env: { PATH: process.env.PATH, NO_COLOR: "1", HOME: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const code = await new Promise<number | null>((ok) => child.on("close", ok));
    expectClear(
      { code, stdout, stderr },
      1,
      "permission denied: cannot create the directory .gantry/state: this user (uid 65534) may not write in .gantry; give it write access, or run gantry as the directory's owner.",
    );
  });
});

describe("a throwing TypeScript step", () => {
  it("shows the user's frames, not Gantry's or Node's; ctx.fs errors name the call and the path given", async () => {
    const dir = repo(
      "ts-throw",
      `import { job, workflow, type StepContext } from "gantry";
async function readConfig(ctx: StepContext) {
  return await ctx.fs.readFile("missing.txt");
}
export default workflow({
  name: "ci",
  jobs: {
    fs: job({ steps: [async (ctx) => { await readConfig(ctx); }] }),
    boom: job({ steps: [async () => { throw new Error("boom from the user"); }] }),
  },
});
`,
    );
    const r = await gantry(["run", "--log-format", "plain"], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const lines = (job: string) => r.stdout.split("\n").filter((l) => l.includes(`[${job}/step 1]`));
    const frames = (job: string) => lines(job).filter((l) => / {4}at /.test(l));

    expect(lines("fs").join("\n")).toContain('error: ctx.fs.readFile("missing.txt"): does not exist in the job directory (ENOENT)');
    expect(frames("fs")).toHaveLength(2);
    expect(frames("fs")[0]).toMatch(/at async readConfig \(.*\.gantry\/ci\.ts:3:\d+\)$/);
    expect(frames("fs")[1]).toMatch(/\.gantry\/ci\.ts:8:\d+\)$/);

    expect(lines("boom").join("\n")).toContain("error: boom from the user");
    expect(frames("boom")).toHaveLength(1);
    expect(frames("boom")[0]).toMatch(/\.gantry\/ci\.ts:9:\d+\)$/);
    for (const line of [...frames("fs"), ...frames("boom")]) {
      expect(line).not.toContain("node:");
      expect(line).not.toMatch(/\/(dist|src)\/(engine|executors|core)\//);
    }
  });
});

describe("describeSystemError", () => {
  const err = (code: string, syscall: string, path: string) =>
    Object.assign(new Error(`${code}: x, ${syscall} '${path}'`), { code, syscall, path });

  it("names the path and what to do for each kind of machine fault", () => {
    const cwd = "/repo";
    expect(describeSystemError(err("EROFS", "open", "/repo/.gantry/state/gantry.db"), cwd)).toBe(
      "cannot open .gantry/state/gantry.db: the file system is read-only; run gantry in a writable directory.",
    );
    expect(describeSystemError(err("ENOSPC", "write", "/repo/.gantry/state/x"), cwd)).toBe(
      "cannot write .gantry/state/x: no space left on the device; free some (`gantry gc` removes old runs).",
    );
    expect(describeSystemError(err("EMFILE", "open", "/elsewhere/f"), cwd)).toBe(
      "cannot open /elsewhere/f: too many open files; raise the limit (ulimit -n).",
    );
    expect(describeSystemError(new Error("plain bug"), cwd)).toBeUndefined();
    expect(describeSystemError(Object.assign(new Error("ECONNRESET"), { code: "ECONNRESET" }), cwd)).toBeUndefined();
  });
});
