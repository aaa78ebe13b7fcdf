/**
 * The process spawner (`shared/spawner.ts`): processes started through it
 * behave as Node's `spawn` made them (the executor conformance suite runs
 * the local executor both ways, `local.test.ts`); these cases check what
 * only the spawner does.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { processAlive, spawnTree } from "../../src/executors/shared/process.js";
import type { SpawnTreeOptions } from "../../src/executors/shared/process.js";
import { requireService } from "../support/services.js";

const repoRoot = join(import.meta.dirname, "..", "..");
const noPerl = await requireService("perl", "the process spawner");

async function run(options: Partial<SpawnTreeOptions>) {
  let stdout = "";
  let stderr = "";
  const result = await spawnTree({
    cwd: "/",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
    signal: new AbortController().signal,
    spawner: true,
    onStdout: (chunk) => (stdout += chunk.toString()),
    onStderr: (chunk) => (stderr += chunk.toString()),
    ...options,
  });
  return { ...result, stdout, stderr };
}

/** Field `n` (1-based, after the command name) of /proc/<pid>/stat. */
const statField = (pid: number, n: number): number =>
  Number(
    readFileSync(`/proc/${pid}/stat`, "utf8")
      .slice(readFileSync(`/proc/${pid}/stat`, "utf8").lastIndexOf(")") + 2)
      .split(" ")[n - 3],
  );

describe.skipIf(!!noPerl || process.env.GANTRY_SPAWNER === "0")("process spawner", () => {
  it("starts processes from the spawner, not the runner, each in its own session", async () => {
    const result = await run({ script: 'echo "$$ $PPID"; cat /proc/$$/stat' });
    expect(result.exitCode).toBe(0);
    const [pid, ppid] = result.stdout.split("\n")[0]!.split(" ").map(Number);
    expect(ppid).not.toBe(process.pid);
    const stat = result.stdout.split("\n")[1]!;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // pgrp and session are the process itself, as with `detached: true`
    expect(Number(fields[2])).toBe(pid);
    expect(Number(fields[3])).toBe(pid);
    // the spawner is a child of this process
    expect(statField(ppid!, 4)).toBe(process.pid);
  });

  it("carries output written before a fast exit, stdin, exit codes and signals", async () => {
    expect(await run({ script: "echo out; echo err >&2; exit 3" })).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
    expect(await run({ script: "cat", stdin: "in\n" })).toMatchObject({ exitCode: 0, stdout: "in\n" });
    expect(await run({ script: "kill -USR1 $$" })).toMatchObject({ exitCode: null, signal: "SIGUSR1" });
    expect(await run({ argv: ["gantry-no-such-program"] })).toMatchObject({ exitCode: 127 });
    await expect(run({ script: "true", cwd: "/gantry-no-such-directory" })).rejects.toThrow(/does not exist/);
  });

  it("kills the process groups it started when its runner dies without saying goodbye", async () => {
    // A runner (a Node process using the built code) starts `sleep` through the spawner and no
    // watchdog (no onGroup); after it is SIGKILLed, only the spawner can end the sleep.
    const program = `
      import { spawnTree } from ${JSON.stringify(join(repoRoot, "dist/executors/shared/process.js"))};
      void spawnTree({ script: "echo $$; exec sleep 300", cwd: "/", env: { PATH: process.env.PATH }, spawner: true,
        signal: new AbortController().signal, onStdout: (c) => process.stdout.write(c), onStderr: () => undefined });`;
    const runner = spawn(process.execPath, ["--input-type=module", "-e", program], { stdio: ["ignore", "pipe", "inherit"] });
    const pid = await new Promise<number>((resolve, reject) => {
      runner.stdout.setEncoding("utf8").once("data", (d: string) => resolve(Number(d.trim())));
      runner.on("exit", (code) => reject(new Error(`runner exited (${code}) before its step started`)));
    });
    expect(processAlive(pid)).toBe(true);
    await new Promise((resolve) => {
      runner.on("close", resolve);
      runner.kill("SIGKILL");
    });
    for (let i = 0; i < 250 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(processAlive(pid)).toBe(false);
  });
});
