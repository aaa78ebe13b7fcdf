/**
 * Processes that leave the step's process group (`setsid`) do not outlive
 * their job: killed at the job's end and at its timeout, with a cgroup per
 * job where this process can create one, and with the environment sweep
 * where it cannot.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requireService } from "../support/services.js";
import { job, sh, workflow, type Workflow } from "../../src/core/definition.js";
import { compileWorkflow } from "../../src/compile.js";
import { createLocalExecutor } from "../../src/executors/local/index.js";
import { probeCgroups } from "../../src/executors/shared/cgroup.js";
import { processAlive } from "../../src/executors/shared/process.js";
import { removeTempDirs, runFake, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

const noSetsid = await requireService("setsid", "daemons started with setsid in a step");

async function runLocal(wf: Workflow, cgroups: boolean) {
  const baseDir = tempDir("gantry-escape-");
  const repoDir = tempDir("gantry-escape-repo-");
  return runFake(compileWorkflow(wf, { file: ".gantry/escape.ts", bundle: "bundle" }), {
    workflow: wf,
    repoDir,
    processEnv: process.env,
    executorFor: (def) => createLocalExecutor(def, { baseDir, killGraceMs: 200, cgroups }),
  });
}

/** Wait until the process is gone (it gets SIGKILL before the job ends, so this is about reaping). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  return !processAlive(pid);
}

const local = { kind: "local" as const, options: { copyRepo: false } };

describe.skipIf(process.platform !== "linux" || !!noSetsid)("a daemon started with setsid in a step", () => {
  const modes: Array<[string, boolean]> = [["the environment sweep", false]];
  if (probeCgroups()) modes.push(["a cgroup per job", true]);
  else it.skip("with a cgroup per job: this process cannot create cgroups here", () => undefined);

  describe.each(modes)("with %s", (_name, cgroups) => {
    it("is killed when its job ends", async () => {
      const pidFile = join(tempDir("gantry-escape-pid-"), "pid");
      const wf = workflow({
        name: "escape",
        defaults: { executor: local },
        jobs: {
          daemon: job({ steps: [sh`setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > ${pidFile}`] }),
        },
      });
      const { result } = await runLocal(wf, cgroups);
      expect(result.status).toBe("success");
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(pid).toBeGreaterThan(0);
      expect(await gone(pid)).toBe(true);
    });

    it("is killed when its job times out", async () => {
      const pidFile = join(tempDir("gantry-escape-pid-"), "pid");
      const wf = workflow({
        name: "escape-timeout",
        defaults: { executor: local },
        jobs: {
          daemon: job({
            timeout: "1s",
            steps: [sh`setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > ${pidFile}; sleep 1000`],
          }),
        },
      });
      const { result } = await runLocal(wf, cgroups);
      expect(result.jobs.daemon?.status).toBe("timed_out");
      const pid = Number(readFileSync(pidFile, "utf8"));
      expect(pid).toBeGreaterThan(0);
      expect(await gone(pid)).toBe(true);
    });
  });
});
