import { execFileSync } from "node:child_process";
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeExecutorConformance, makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo } from "gantry/testing";
import { createLocalExecutor, jobDirName } from "../../src/executors/local/index.js";
import { processAlive } from "../../src/executors/shared/process.js";

const base = mkdtempSync(join(tmpdir(), "gantry-local-test-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describeExecutorConformance("local", () => ({
  executor: createLocalExecutor(makePlanExecutor({ name: "local", options: { copyRepo: false } }), { baseDir: base }),
}));

// Node's `spawn` on the event loop, the path where the process spawner cannot run (shared/spawner.ts).
describeExecutorConformance("local without the process spawner", () => ({
  executor: createLocalExecutor(makePlanExecutor({ name: "local-direct", options: { copyRepo: false } }), { baseDir: base, spawner: false }),
}));

describeExecutorConformance(
  "local with copyRepo",
  () => ({
    executor: createLocalExecutor(makePlanExecutor({ name: "local-copy", options: {} }), { baseDir: base }),
  }),
  { repoDir: makeRepo(false) },
);

function makeRepo(git: boolean): string {
  const repo = mkdtempSync(join(base, git ? "git-repo-" : "plain-repo-"));
  const write = (rel: string, content: string): void => {
    mkdirSync(dirname(join(repo, rel)), { recursive: true });
    writeFileSync(join(repo, rel), content);
  };
  write("README.md", "readme");
  write("src/main.sh", "#!/bin/sh\necho main\n");
  chmodSync(join(repo, "src/main.sh"), 0o755);
  write("node_modules/dep/index.js", "dep");
  write(".gantry/state/gantry.db", "db");
  write(".gantry/ci.ts", "workflow");
  write("build/out.txt", "ignored output");
  write(".gitignore", "build/\nnode_modules/\n*.log\n");
  write("debug.log", "log");
  symlinkSync("src/main.sh", join(repo, "main-link"));
  if (git) {
    const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
    const run = (...args: string[]): void => void execFileSync("git", args, { cwd: repo, env: gitEnv, stdio: "ignore" });
    run("init", "-q");
    write("tracked-then-deleted.txt", "gone soon");
    run("add", "README.md", "src", ".gitignore", "main-link", "tracked-then-deleted.txt");
    run("commit", "-q", "-m", "init");
    rmSync(join(repo, "tracked-then-deleted.txt"));
    write("untracked.txt", "new"); // untracked, not ignored
  }
  return repo;
}

function listTree(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of execFileSync("ls", ["-A", join(root, rel)], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)) {
    const childRel = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(root, childRel));
    if (st.isDirectory()) out.push(`${childRel}/`, ...listTree(root, childRel));
    else out.push(childRel);
  }
  return out.sort();
}

describe("local executor", () => {
  it("copies tracked and untracked-not-ignored files of a git repo, nothing ignored", async () => {
    const repo = makeRepo(true);
    const def = makePlanExecutor({ name: "copy-git" });
    const executor = createLocalExecutor(def, { baseDir: base });
    const ws = makeWorkspaceInfo(def, ["build"], { runId: "git-copy", repoDir: repo });
    const job = makeJobInfo(makePlanJob("build", { executor: def.name }), { runId: "git-copy", repoDir: repo });
    await executor.setupWorkspace(ws);
    try {
      await executor.setupJob(job);
      const dir = executor.localJobDir(job);
      expect(listTree(dir)).toEqual([
        ".gantry/",
        ".gantry/ci.ts",
        ".gitignore",
        "README.md",
        "main-link",
        "src/",
        "src/main.sh",
        "untracked.txt",
      ]);
      expect(readlinkSync(join(dir, "main-link"))).toBe("src/main.sh");
      expect(statSync(join(dir, "src/main.sh")).mode & 0o777).toBe(0o755);
      expect(readFileSync(join(dir, "untracked.txt"), "utf8")).toBe("new");
    } finally {
      await executor.cleanupJob(job);
      await executor.cleanupWorkspace(ws);
    }
    expect(readdirSync(join(base, `gantry-${process.getuid?.() ?? 0}`)).filter((n) => n.startsWith("git-copy."))).toEqual([]);
  });

  it("outside git copies everything but .git, node_modules and .gantry/state", async () => {
    const repo = makeRepo(false);
    mkdirSync(join(repo, "sub/node_modules/x"), { recursive: true });
    writeFileSync(join(repo, "sub/node_modules/x/a.js"), "x");
    const def = makePlanExecutor({ name: "copy-plain" });
    const executor = createLocalExecutor(def, { baseDir: base });
    const job = makeJobInfo(makePlanJob("build", { executor: def.name }), { runId: "plain-copy", repoDir: repo });
    // No setupWorkspace: setupJob takes the snapshot itself.
    try {
      await executor.setupJob(job);
      expect(listTree(executor.localJobDir(job))).toEqual([
        ".gantry/",
        ".gantry/ci.ts",
        ".gitignore",
        "README.md",
        "build/",
        "build/out.txt",
        "debug.log",
        "main-link",
        "src/",
        "src/main.sh",
        "sub/",
      ]);
    } finally {
      await executor.cleanupJob(job);
      await executor.cleanupWorkspace(makeWorkspaceInfo(def, ["build"], { runId: "plain-copy", repoDir: repo }));
    }
  });

  it("with copyRepo false creates an empty job directory", async () => {
    const def = makePlanExecutor({ name: "empty", options: { copyRepo: false } });
    const executor = createLocalExecutor(def, { baseDir: base });
    const job = makeJobInfo("build", { runId: "no-copy", repoDir: makeRepo(false) });
    await executor.setupJob(job);
    expect(listTree(executor.localJobDir(job))).toEqual([]);
    await executor.cleanupJob(job);
    await executor.cleanupWorkspace(makeWorkspaceInfo(def, [], { runId: "no-copy" }));
  });

  it("names job directories safely and uniquely, under <base>/gantry-<uid>/<run>.XXXXXX/<executor>/jobs", async () => {
    const def = makePlanExecutor({ name: "local", options: { copyRepo: false } });
    const executor = createLocalExecutor(def, { baseDir: base });
    const ids = [
      "test (node=20, os=bookworm)",
      "test (node=22, os=bookworm)",
      "test-node-20-os-bookworm",
      "Build",
      "build",
      "../../etc",
      "a/b",
      "ünïcode ✓",
      "x".repeat(300),
    ];
    const names = ids.map(jobDirName);
    expect(new Set(names).size).toBe(ids.length);
    for (const name of names) {
      expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
      expect(name.length).toBeLessThanOrEqual(70);
      expect(name.startsWith(".")).toBe(false);
    }
    expect(jobDirName("test (node=20, os=bookworm)")).toMatch(/^test-node-20-os-bookworm-[0-9a-f]{8}$/);
    const parent = join(base, `gantry-${process.getuid?.() ?? 0}`);
    const job = makeJobInfo("test (node=20, os=bookworm)", { runId: "run-1" });
    const evil = makeJobInfo("x", { runId: "../evil run" });
    await executor.setupJob(job);
    await executor.setupJob(evil);
    try {
      const dir = executor.localJobDir(job);
      expect(basename(dir)).toBe(jobDirName("test (node=20, os=bookworm)"));
      expect(dirname(dir)).toMatch(new RegExp(`^${parent}/run-1\\.[A-Za-z0-9]{6}/local/jobs$`));
      expect(dirname(executor.localJobDir(evil))).toMatch(new RegExp(`^${parent}/evil-run-[0-9a-f]{8}\\.[A-Za-z0-9]{6}/local/jobs$`));
    } finally {
      await executor.cleanupJob(job);
      await executor.cleanupJob(evil);
      await executor.cleanupWorkspace(makeWorkspaceInfo(def, [], { runId: "run-1" }));
      await executor.cleanupWorkspace(makeWorkspaceInfo(def, [], { runId: "../evil run" }));
    }
  });

  it("leaves no process behind after an abort (checked with kill -0 from the runner)", async () => {
    const def = makePlanExecutor({ name: "local", options: { copyRepo: false } });
    const executor = createLocalExecutor(def, { baseDir: base });
    const job = makeJobInfo("abort", { runId: "abort-run" });
    await executor.setupJob(job);
    try {
      const controller = new AbortController();
      let out = "";
      const running = executor.exec(
        job,
        {
          script: "sleep 1000 & echo $!\n(sleep 1000; echo never) &\nwait",
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
          signal: controller.signal,
          killGraceMs: 5_000,
        },
        {
          stdout: (c) => {
            out += c.toString();
            if (out.includes("\n")) controller.abort();
          },
          stderr: () => undefined,
        },
      );
      const result = await running;
      expect(result).toMatchObject({ cancelled: true, timedOut: false, signal: "SIGTERM", exitCode: null });
      const pid = Number(out.trim());
      expect(pid).toBeGreaterThan(0);
      expect(processAlive(pid)).toBe(false);
      // Nothing else of that run's job dir is running either.
      const dir = executor.localJobDir(job);
      const leftovers = execFileSync(
        "sh",
        [
          "-c",
          `for p in /proc/[0-9]*; do c=$(readlink $p/cwd 2>/dev/null) && [ "$c" = "${dir}" ] && grep -qv '^[0-9]* ([^)]*) Z' $p/stat && echo $p; done; true`,
        ],
        { encoding: "utf8" },
      );
      expect(leftovers.trim()).toBe("");
    } finally {
      await executor.cleanupJob(job);
    }
  });

  it("rolls back what a refused tar wrote and refuses exec before setupJob", async () => {
    const def = makePlanExecutor({ name: "local", options: { copyRepo: false } });
    const executor = createLocalExecutor(def, { baseDir: base });
    const job = makeJobInfo("rollback", { runId: "rollback-run" });
    await expect(
      executor.exec(
        job,
        { script: "true", env: {}, signal: new AbortController().signal },
        { stdout: () => undefined, stderr: () => undefined },
      ),
    ).rejects.toMatchObject({
      code: "EXECUTOR_FAILED",
    });
    await executor.setupJob(job);
    try {
      const { buildTar } = await import("gantry/testing");
      const error = await executor
        .writeFiles(
          job,
          "out",
          buildTar([
            { name: "a/ok.txt", content: "ok" },
            { name: "b/../../../x", content: "x" },
          ]),
        )
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "PATH_ESCAPE" });
      expect((error as Error).message).toContain("b/../../../x");
      expect(listTree(executor.localJobDir(job))).toEqual([]);
    } finally {
      await executor.cleanupJob(job);
    }
  });

  it("does not source ~/.bashrc, even with stdin on a socket and no SHLVL", async () => {
    const home = mkdtempSync(join(base, "home-"));
    writeFileSync(join(home, ".bashrc"), "echo FROM-BASHRC\n");
    writeFileSync(join(home, ".bash_profile"), "echo FROM-PROFILE\n");
    const def = makePlanExecutor({ name: "local", options: { copyRepo: false } });
    const executor = createLocalExecutor(def, { baseDir: base });
    const job = makeJobInfo("rc", { runId: "rc-run" });
    await executor.setupJob(job);
    try {
      let out = "";
      const result = await executor.exec(
        job,
        {
          script: "cat",
          stdin: "in\n",
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home },
          signal: new AbortController().signal,
        },
        { stdout: (c) => (out += c.toString()), stderr: () => undefined },
      );
      expect(result.exitCode).toBe(0);
      expect(out).toBe("in\n");
    } finally {
      await executor.cleanupJob(job);
    }
  });
});
