/** Executor conformance cases: processes (exit codes, streams, env, cwd, stdin, aborts, timeouts, process trees). */
import { realpath } from "node:fs/promises";
import { expect, it } from "vitest";
import type { ConformanceKit } from "./conformance-kit.js";

export function processCases(kit: ConformanceKit): void {
  const { executor, withJob, exec, sh, startThenAbort, expectGone, absent, env, timeout } = kit;

  it(
    "reports exit codes as results: 0, 3, and death by a signal",
    async () => {
      await withJob("exit-codes", async (job) => {
        const ok = await exec(job, { script: "echo hello" });
        expect(ok).toMatchObject({ stdout: "hello\n", result: { exitCode: 0, signal: null, timedOut: false, cancelled: false } });
        const three = await exec(job, { script: "exit 3" });
        expect(three.result).toMatchObject({ exitCode: 3, timedOut: false, cancelled: false });
        const killed = await exec(job, { script: "kill -KILL $$" });
        expect(killed.result.signal === "SIGKILL" || killed.result.exitCode === 137, JSON.stringify(killed.result)).toBe(true);
        expect(killed.result).toMatchObject({ timedOut: false, cancelled: false });
      });
    },
    timeout,
  );

  it(
    "runs scripts with -e and pipefail, and argv without a shell",
    async () => {
      await withJob("exit-codes", async (job) => {
        const failed = await exec(job, { script: "false | true\necho after" });
        expect(failed.result.exitCode).not.toBe(0);
        expect(failed.stdout).not.toContain("after");
        const argv = await exec(job, { argv: ["printf", "%s|%s", "a b", "$HOME"] });
        expect(argv).toMatchObject({ stdout: "a b|$HOME", result: { exitCode: 0 } });
      });
    },
    timeout,
  );

  it(
    "keeps stdout and stderr apart",
    async () => {
      await withJob("streams", async (job) => {
        const run = await exec(job, { script: "echo out1\necho err1 >&2\necho out2\necho err2 >&2" });
        expect(run.stdout).toBe("out1\nout2\n");
        expect(run.stderr).toBe("err1\nerr2\n");
      });
    },
    timeout,
  );

  it(
    "passes exactly the given environment",
    async () => {
      await withJob("env", async (job) => {
        const previous = process.env.GANTRY_CONFORMANCE_LEAK;
        process.env.GANTRY_CONFORMANCE_LEAK = "leaked";
        try {
          const run = await exec(job, {
            script: `printf '%s\\n' "$GANTRY_CONFORMANCE_VAR" "\${GANTRY_CONFORMANCE_LEAK-unset}"`,
            env: { ...env, GANTRY_CONFORMANCE_VAR: "a b 'c' $d" },
          });
          expect(run.stdout).toBe("a b 'c' $d\nunset\n");
        } finally {
          if (previous === undefined) delete process.env.GANTRY_CONFORMANCE_LEAK;
          else process.env.GANTRY_CONFORMANCE_LEAK = previous;
        }
      });
    },
    timeout,
  );

  it(
    "runs in the job directory, honours cwd and refuses a cwd outside it",
    async () => {
      await withJob("cwd", async (job) => {
        await sh(job, "mkdir -p sub/dir && pwd > top.txt");
        const inner = await exec(job, { script: "pwd; echo here > marker", cwd: "sub/dir" });
        expect(inner.result.exitCode).toBe(0);
        expect(inner.stdout.trim()).toMatch(/\/sub\/dir$/);
        expect(await sh(job, "cat sub/dir/marker")).toBe("here\n");
        const top = (await sh(job, "cat top.txt")).trim();
        expect(inner.stdout.trim()).toBe(`${top}/sub/dir`);
        const local = executor().localJobDir?.(job);
        if (local !== undefined) {
          expect(top).toBe(await realpath(local));
        }
        const outside = await executor()
          .exec(
            job,
            { script: "true", env, signal: new AbortController().signal, cwd: "../" },
            { stdout: () => undefined, stderr: () => undefined },
          )
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(outside).toMatchObject({ code: "PATH_ESCAPE" });
      });
    },
    timeout,
  );

  it(
    "feeds stdin, and gives end-of-file when there is none",
    async () => {
      await withJob("stdin", async (job) => {
        expect(await exec(job, { script: "cat", stdin: "line 1\nline 2\n" })).toMatchObject({
          stdout: "line 1\nline 2\n",
          result: { exitCode: 0 },
        });
        expect(await exec(job, { script: "cat", stdin: new Uint8Array([104, 105]) })).toMatchObject({ stdout: "hi" });
        expect(await exec(job, { script: "cat; echo done" })).toMatchObject({ stdout: "done\n", result: { exitCode: 0 } });
      });
    },
    timeout,
  );

  it(
    "on abort kills the whole process tree and reports cancelled",
    async () => {
      await withJob("abort", async (job) => {
        const run = await startThenAbort(job, "sleep 1000 & echo $! > bg.pid\necho ready\nwait", undefined);
        expect(run.result).toMatchObject({ cancelled: true, timedOut: false });
        expect(run.result.exitCode).not.toBe(0);
        await expectGone(job);
      });
    },
    timeout,
  );

  it(
    "on an abort with a TimeoutError reason kills the tree and reports timedOut",
    async () => {
      await withJob("timeout", async (job) => {
        const run = await startThenAbort(
          job,
          "sleep 1000 & echo $! > bg.pid\necho ready\nwait",
          new DOMException("step timed out", "TimeoutError"),
        );
        expect(run.result).toMatchObject({ cancelled: false, timedOut: true });
        expect(run.result.exitCode).not.toBe(0);
        await expectGone(job);
      });
    },
    timeout,
  );

  it(
    "kills processes that ignore SIGTERM after the grace period",
    async () => {
      await withJob("grace", async (job) => {
        const script = "trap '' TERM\nsleep 1000 & echo $! > bg.pid\necho ready\nwhile :; do sleep 0.1; done";
        const run = await startThenAbort(job, script, undefined, 300);
        expect(run.result).toMatchObject({ cancelled: true });
        await expectGone(job);
      });
    },
    timeout,
  );

  it(
    "ends background processes with the process that started them",
    async () => {
      await withJob("background", async (job) => {
        const run = await exec(job, { script: "sleep 1000 > /dev/null 2>&1 & echo $! > bg.pid\nsleep 1000 &\necho started" });
        expect(run).toMatchObject({ stdout: "started\n", result: { exitCode: 0, cancelled: false, timedOut: false } });
        await expectGone(job);
      });
    },
    timeout,
  );

  it(
    "runs nothing when the signal has already fired",
    async () => {
      await withJob("pre-aborted", async (job) => {
        const controller = new AbortController();
        controller.abort();
        const run = await exec(job, { script: "touch ran", signal: controller.signal });
        expect(run.result).toMatchObject({ cancelled: true, timedOut: false });
        await absent(job, "ran");
      });
    },
    timeout,
  );
}
