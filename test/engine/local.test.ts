/**
 * The engine with the real local executor: real processes, real files.
 */
import { readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { GantryError } from "../../src/core/errors.js";
import { job, sh, step, workflow, type Workflow } from "../../src/core/definition.js";
import type { Plan } from "../../src/core/plan-types.js";
import { compileWorkflow } from "../../src/compile.js";
import { createLocalExecutor } from "../../src/executors/local/index.js";
import { logLines, removeTempDirs, runFake, stepStatuses, tempDir, eventsOf, type HarnessOptions } from "./helpers.js";

afterAll(removeTempDirs);

function alive(pid: number): boolean {
  try {
    // a zombie (exited, not reaped yet: PID 1 of a container may never reap it) is dead
    if (
      readFileSync(`/proc/${pid}/stat`, "utf8")
        .replace(/^.*\) /s, "")
        .startsWith("Z")
    )
      return false;
  } catch {
    // no /proc (not Linux), or the process is gone
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function compile(wf: Workflow): Plan {
  return compileWorkflow(wf, { file: ".gantry/local.ts", bundle: "bundle" });
}

async function runLocal(wf: Workflow, options: HarnessOptions = {}) {
  const baseDir = tempDir("gantry-local-");
  const repoDir = tempDir("gantry-repo-");
  writeFileSync(join(repoDir, "README.md"), "hello from the repo\n");
  return runFake(compile(wf), {
    workflow: wf,
    repoDir,
    processEnv: process.env,
    executorFor: (def) => createLocalExecutor(def, { baseDir, killGraceMs: 200 }),
    ...options,
  });
}

describe("engine + local executor", () => {
  it("a step timeout kills the whole process tree", async () => {
    const pidDir = tempDir("gantry-pids-");
    const wf = workflow({
      name: "timeout",
      jobs: {
        slow: job({
          env: { PID_DIR: pidDir },
          steps: [sh('sleep 1000 & echo $! > "$PID_DIR/bg.pid"; echo started; sleep 1000', { timeout: "300ms" }), sh`echo not-reached`],
        }),
      },
    });
    const h = await runLocal(wf);
    expect(stepStatuses(h.events, "slow")).toEqual(["timed_out", "skipped"]);
    expect(h.result.jobs.slow?.status).toBe("timed_out");
    expect(logLines(h.events, "slow")).toEqual(["started"]);
    const pid = Number(readFileSync(join(pidDir, "bg.pid"), "utf8").trim());
    expect(pid).toBeGreaterThan(0);
    // The local executor resolves a step once its process group is gone: nothing to wait for.
    expect(alive(pid)).toBe(false);
  });

  it("cancelling the run kills running processes; always() jobs still run", async () => {
    const pidDir = tempDir("gantry-pids-");
    const controller = new AbortController();
    const wf = workflow({
      name: "cancel",
      jobs: {
        long: job({ env: { PID_DIR: pidDir }, steps: [sh('sleep 1000 & echo $! > "$PID_DIR/bg.pid"; echo READY; wait')] }),
        finally: job({ needs: ["long"], if: { kind: "status", status: "always" }, steps: [sh`echo always-ran`] }),
      },
    });
    const h = await runLocal(wf, {
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "log" && e.lines.includes("READY")) controller.abort();
      },
    });
    expect(h.result.jobs.long?.status).toBe("cancelled");
    expect(h.result.jobs.finally?.status).toBe("success");
    expect(logLines(h.events, "finally")).toEqual(["always-ran"]);
    expect(alive(Number(readFileSync(join(pidDir, "bg.pid"), "utf8").trim()))).toBe(false);
    expect(h.result.status).toBe("cancelled");
  });

  it("artifacts travel as tar between job directories", async () => {
    const wf = workflow({
      name: "artifacts",
      jobs: {
        a: job({
          steps: [sh`mkdir -p dist/sub && echo built > dist/app.txt && echo deep > dist/sub/x.txt && echo r > report.txt`],
          outputs: { artifacts: { dist: "dist", report: "report.txt" } },
        }),
        b: job({
          needs: ["a"],
          inputs: { artifacts: { dist: "input/dist", report: "reports/got.txt" } },
          steps: [sh`cat input/dist/app.txt input/dist/sub/x.txt reports/got.txt`],
        }),
      },
    });
    const h = await runLocal(wf);
    expect([h.result.jobs.b?.reason, logLines(h.events, "b")]).toEqual([undefined, ["built", "deep", "r"]]);
    expect(h.result.status).toBe("success");
    expect(Object.keys(h.result.artifacts).sort()).toEqual(["dist", "report"]);
  });

  it("steps see the repository copy, GANTRY_* variables and the process env", async () => {
    const wf = workflow({
      name: "env",
      jobs: {
        a: job({
          steps: [
            sh`cat README.md; echo "$GANTRY $GANTRY_JOB"; test "$GANTRY_WORKSPACE" = "$(pwd)" && echo in-workspace; test -n "$PATH" && echo has-path`,
          ],
        }),
      },
    });
    const h = await runLocal(wf);
    expect(logLines(h.events, "a")).toEqual(["hello from the repo", "1 a", "in-workspace", "has-path"]);
  });

  it("ctx.fs is jailed to the job directory", async () => {
    const outside = tempDir("gantry-outside-");
    writeFileSync(join(outside, "secret.txt"), "outside\n");
    const errors: string[] = [];
    const wf = workflow({
      name: "fs",
      jobs: {
        a: job({
          steps: [
            async (ctx) => {
              await ctx.fs.writeFile("out/a.txt", "content");
              ctx.log.info(`read: ${await ctx.fs.readFile("out/a.txt")}`);
              ctx.log.info(`exists: ${await ctx.fs.exists("out/a.txt")} ${await ctx.fs.exists("nope")}`);
              ctx.log.info(`ls: ${(await ctx.fs.readdir("out")).join(",")}`);
              symlinkSync(outside, join(ctx.env["GANTRY_WORKSPACE"]!, "escape"));
              for (const bad of ["../x", "/etc/passwd", "escape/secret.txt"]) {
                try {
                  await ctx.fs.readFile(bad);
                  errors.push(`${bad}: allowed`);
                } catch (error) {
                  errors.push(`${bad}: ${(error as GantryError).code}`);
                }
              }
              await ctx.fs.rm("escape");
              ctx.log.info(`link gone: ${!(await ctx.fs.exists("escape"))}`);
            },
          ],
        }),
      },
    });
    const h = await runLocal(wf);
    expect(h.result.jobs.a?.status).toBe("success");
    expect(logLines(h.events, "a")).toEqual(["read: content", "exists: true false", "ls: a.txt", "link gone: true"]);
    expect(errors).toEqual(["../x: PATH_ESCAPE", "/etc/passwd: PATH_ESCAPE", "escape/secret.txt: PATH_ESCAPE"]);
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("outside\n");
  });

  it("retries a flaky step whose counter lives in the job directory", async () => {
    const wf = workflow({
      name: "retry",
      jobs: {
        flaky: job({
          steps: [
            step(
              { name: "flaky", retry: { attempts: 4, backoff: "exponential", delay: "50ms", maxDelay: "10s" } },
              sh`n=$(cat .attempts 2>/dev/null || echo 0); n=$((n+1)); echo $n > .attempts; echo attempt $n; [ $n -ge 3 ]`,
            ),
          ],
        }),
      },
    });
    const h = await runLocal(wf);
    expect(eventsOf(h.events, "step.retry").map((e) => e.delayMs)).toEqual([50, 100]);
    expect(eventsOf(h.events, "step.finished")[0]).toMatchObject({ status: "success", attempts: 3 });
  });
});
