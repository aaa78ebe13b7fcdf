import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { abortOutcome, isTimeoutReason, timeoutReason } from "../../src/core/abort.js";
import { findShell, processAlive, shellCommand, spawnTree } from "../../src/executors/shared/process.js";
import type { SpawnTreeOptions } from "../../src/executors/shared/process.js";
import { requireService } from "../support/services.js";

const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

async function run(options: Partial<SpawnTreeOptions> & ({ script: string } | { argv: readonly string[] })) {
  let stdout = "";
  let stderr = "";
  const result = await spawnTree({
    cwd: tmpdir(),
    env,
    signal: new AbortController().signal,
    onStdout: (c) => (stdout += c.toString()),
    onStderr: (c) => (stderr += c.toString()),
    ...options,
  });
  return { result, stdout, stderr };
}

describe("abort reasons", () => {
  it("reads TimeoutError reasons as timeouts, everything else as cancellation", async () => {
    expect(isTimeoutReason(timeoutReason("step", 5))).toBe(true);
    expect(isTimeoutReason(new DOMException("x", "TimeoutError"))).toBe(true);
    expect(isTimeoutReason(Object.assign(new Error("x"), { name: "TimeoutError" }))).toBe(true);
    expect(isTimeoutReason(new DOMException("x", "AbortError"))).toBe(false);
    expect(isTimeoutReason(undefined)).toBe(false);
    expect(isTimeoutReason("TimeoutError")).toBe(false);
    const timed = AbortSignal.timeout(1);
    await new Promise((resolve) => timed.addEventListener("abort", resolve));
    expect(abortOutcome(timed)).toEqual({ timedOut: true, cancelled: false });
    const either = AbortSignal.any([new AbortController().signal, AbortSignal.abort(timeoutReason())]);
    expect(abortOutcome(either)).toEqual({ timedOut: true, cancelled: false });
    const controller = new AbortController();
    expect(abortOutcome(controller.signal)).toEqual({ timedOut: false, cancelled: false });
    controller.abort();
    expect(abortOutcome(controller.signal)).toEqual({ timedOut: false, cancelled: true });
  });
});

describe("spawnTree", () => {
  it("uses bash with -eo pipefail when present, sh -e otherwise", () => {
    expect(shellCommand("x", { kind: "bash", path: "/b/bash" })).toEqual({
      file: "/b/bash",
      args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", "x"],
    });
    expect(shellCommand("x", { kind: "sh", path: "/b/sh" })).toEqual({ file: "/b/sh", args: ["-e", "-c", "x"] });
    expect(findShell()).toBe(findShell());
    if (existsSync("/bin/bash") || existsSync("/usr/bin/bash")) expect(findShell().kind).toBe("bash");
  });

  it("runs scripts with plain sh too", async () => {
    const sh = { kind: "sh" as const, path: existsSync("/bin/sh") ? "/bin/sh" : "/usr/bin/sh" };
    const failed = await run({ script: "false\necho after", shell: sh });
    expect(failed.result.exitCode).toBe(1);
    expect(failed.stdout).toBe("");
    const bg = await run({ script: "sleep 1000 & echo $!", shell: sh });
    expect(bg.result.exitCode).toBe(0);
    expect(processAlive(Number(bg.stdout.trim()))).toBe(false);
  });

  it("reports a missing or non-executable program like a shell would (127/126)", async () => {
    const missing = await run({ argv: ["gantry-no-such-program-xyz"] });
    expect(missing.result).toEqual({ exitCode: 127, signal: null, timedOut: false, cancelled: false });
    expect(missing.stderr).toContain("command not found");
    const file = join(mkdtempSync(join(tmpdir(), "gantry-proc-")), "not-executable");
    writeFileSync(file, "echo hi\n", { mode: 0o644 });
    const notExec = await run({ argv: [file] });
    expect(notExec.result.exitCode).toBe(126);
    rmSync(dirname(file), { recursive: true, force: true });
  });

  it("rejects a request with both or neither of script and argv", () => {
    expect(() =>
      spawnTree({
        script: "true",
        argv: ["true"],
        cwd: tmpdir(),
        env,
        signal: new AbortController().signal,
        onStdout: () => undefined,
        onStderr: () => undefined,
      }),
    ).toThrow(/both/);
    expect(() =>
      spawnTree({
        argv: [],
        cwd: tmpdir(),
        env,
        signal: new AbortController().signal,
        onStdout: () => undefined,
        onStderr: () => undefined,
      }),
    ).toThrow(/neither/);
  });

  it("rejects with EXECUTOR_FAILED when the working directory is missing", async () => {
    await expect(run({ script: "true", cwd: "/nonexistent/gantry/dir" })).rejects.toMatchObject({ code: "EXECUTOR_FAILED" });
    await expect(run({ argv: ["true"], cwd: "/nonexistent/gantry/dir" })).rejects.toMatchObject({ code: "EXECUTOR_FAILED" });
  });

  it("returns when a process that left the group still holds the output pipe", async (ctx) => {
    const missing = await requireService("setsid", "the test of a process that left the group");
    ctx.skip(missing !== undefined, missing);
    const { result, stdout } = await run({ script: "setsid sleep 1000 & echo $!" });
    const pid = Number(stdout.trim());
    try {
      expect(result.exitCode).toBe(0);
      expect(pid).toBeGreaterThan(0);
    } finally {
      // setsid forks when it is a group leader; kill the session it made.
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
  });
});
