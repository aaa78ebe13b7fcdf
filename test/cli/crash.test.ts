/**
 * SIGKILL of a real `gantry run` leaves no step process and no scratch
 * directory behind: the runner's watchdog kills the step groups and job
 * cgroups and removes the run's directory when the runner's pipe closes.
 * When the watchdog is killed too, `gantry doctor --prune` and the next
 * `gantry run` clean up after the dead run.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requireService } from "../support/services.js";
import { probeCgroups } from "../../src/executors/shared/cgroup.js";
import { processAlive } from "../../src/executors/shared/process.js";
import { cliPath, gantry, tempDir } from "./helpers.js";

const dirs: string[] = [];
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone, as it should be
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const noSetsid = await requireService("setsid", "a setsid daemon in a step of a SIGKILLed run");

/** A repository whose one job starts a background process, a `setsid` daemon, and waits. */
function setup(): { repo: string; tmp: string; pidFile: string } {
  const repo = tempDir("crash-repo");
  const tmp = tempDir("crash-tmp");
  dirs.push(repo, tmp);
  const pidFile = join(tmp, "pids");
  mkdirSync(join(repo, ".gantry"));
  writeFileSync(
    join(repo, ".gantry", "ci.ts"),
    `import { job, sh, workflow } from "gantry";
export default workflow({
  name: "crash",
  jobs: {
    hang: job({ executor: { kind: "local", options: { copyRepo: false } }, steps: [
      sh\`sleep 300 & echo $! >> ${pidFile}; setsid sleep 301 </dev/null >/dev/null 2>&1 & echo $! >> ${pidFile}; echo step-started; wait\`,
    ] }),
  },
});
`,
  );
  return { repo, tmp, pidFile };
}

function startRun(repo: string, tmp: string, env: Record<string, string> = {}): { child: ChildProcess; running: Promise<void> } {
  const child = spawn(process.execPath, [cliPath, "run", "--log-format", "plain"], {
    cwd: repo,
    env: { ...process.env, NO_COLOR: "1", TMPDIR: tmp, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const running = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("step-started")) resolve();
    });
    child.stderr.resume();
    child.on("close", (code) => reject(new Error(`gantry run ended (${code}) before its step started:\n${out}`)));
  });
  return { child, running };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on("close", () => resolve());
    child.kill("SIGKILL");
  });
}

/** Children of `pid` (Linux). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

function stepPids(pidFile: string): number[] {
  const pids = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
  started.push(...pids);
  return pids;
}

/** Wait (bounded) until every pid is gone. */
async function allGone(pids: readonly number[]): Promise<boolean> {
  for (let i = 0; i < 300 && pids.some(processAlive); i++) await new Promise((r) => setTimeout(r, 20));
  return !pids.some(processAlive);
}

function scratchDirs(tmp: string): string[] {
  const parent = join(tmp, `gantry-${process.getuid?.() ?? 0}`);
  return existsSync(parent) ? readdirSync(parent) : [];
}

describe.skipIf(process.platform !== "linux" || !!noSetsid)("SIGKILL of gantry run", () => {
  it("kills the step processes, the setsid daemon too, and removes the run's scratch directory", async () => {
    const { repo, tmp, pidFile } = setup();
    const { child, running } = startRun(repo, tmp);
    await running;
    const pids = stepPids(pidFile);
    expect(pids).toHaveLength(2);
    expect(pids.every(processAlive)).toBe(true);
    expect(scratchDirs(tmp)).toHaveLength(1);
    const cgroups = probeCgroups();
    const runCgroup = cgroups ? join(cgroups.base, scratchDirs(tmp)[0]!) : undefined;
    if (runCgroup) expect(existsSync(runCgroup)).toBe(true);
    await killed(child);
    expect(await allGone(pids)).toBe(true);
    for (let i = 0; i < 100 && (scratchDirs(tmp).length > 0 || (runCgroup && existsSync(runCgroup))); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(scratchDirs(tmp)).toEqual([]);
    // The run's cgroup goes too, not only its jobs' cgroups.
    if (runCgroup) expect(existsSync(runCgroup)).toBe(false);
  });

  it.each([
    ["with cgroups where available", {}],
    ["with the environment sweep", { GANTRY_CGROUPS: "0" }],
  ])("when the watchdog dies too, gantry doctor --prune cleans up (%s)", async (_name, env) => {
    const { repo, tmp, pidFile } = setup();
    const { child, running } = startRun(repo, tmp, env);
    await running;
    const pids = stepPids(pidFile);
    // The watchdog is the runner's child that is not a step (its own group, `node -e`). The process
    // spawner (`perl -e`, which kills its step groups when the runner dies) is killed with it, while
    // the runner is stopped (so it does not see its spawner die): as by one `kill -9` of everything.
    process.kill(child.pid!, "SIGSTOP");
    const helpers = childrenOf(child.pid!).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("\0-e\0"));
    const watchdogs = helpers.filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(`${process.execPath}\0`));
    expect(watchdogs).toHaveLength(1);
    for (const pid of helpers) process.kill(pid, "SIGKILL");
    await killed(child);
    expect(pids.every(processAlive)).toBe(true);
    expect(scratchDirs(tmp)).toHaveLength(1);

    const prune = await gantry(["doctor", "--prune"], { cwd: repo, env: { TMPDIR: tmp, DOCKER_HOST: "unix:///nonexistent" } });
    expect(prune.stdout).toContain("pruned 1 local run(s) of dead gantry processes");
    expect(await allGone(pids)).toBe(true);
    expect(scratchDirs(tmp)).toEqual([]);
  });

  it("when the watchdog dies too, the next gantry run cleans up first", async () => {
    const { repo, tmp, pidFile } = setup();
    const { child, running } = startRun(repo, tmp);
    await running;
    const pids = stepPids(pidFile);
    process.kill(child.pid!, "SIGSTOP");
    for (const pid of childrenOf(child.pid!)) {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("\0-e\0")) process.kill(pid, "SIGKILL");
    }
    await killed(child);
    expect(pids.every(processAlive)).toBe(true);
    writeFileSync(
      join(repo, ".gantry", "ci.ts"),
      `import { job, sh, workflow } from "gantry";\nexport default workflow({ name: "crash", jobs: { ok: job({ steps: [sh\`true\`] }) } });\n`,
    );
    const next = await gantry(["run"], { cwd: repo, env: { TMPDIR: tmp } });
    expect(next.code).toBe(0);
    expect(await allGone(pids)).toBe(true);
    expect(scratchDirs(tmp)).toEqual([]);
  });
});
