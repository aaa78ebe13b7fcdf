/**
 * The second Ctrl-C (the run's force signal) kills at once: a process that
 * ignores SIGTERM is SIGKILLed without waiting for its grace period.
 */
import { afterAll, describe, expect, it } from "vitest";
import { job, sh, workflow } from "../../src/core/definition.js";
import { compileWorkflow } from "../../src/compile.js";
import { createLocalExecutor } from "../../src/executors/local/index.js";
import { removeTempDirs, runFake, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

describe("the force signal", () => {
  it("kills a step that ignores SIGTERM at once, also during its grace period", async () => {
    const wf = workflow({
      name: "force",
      defaults: { executor: { kind: "local", options: { copyRepo: false } } },
      jobs: { stubborn: job({ steps: [sh`trap '' TERM; echo ready; sleep 300`] }) },
    });
    const cancel = new AbortController();
    const force = new AbortController();
    const baseDir = tempDir("gantry-force-");
    const { result } = await runFake(compileWorkflow(wf, { file: ".gantry/force.ts", bundle: "bundle" }), {
      workflow: wf,
      processEnv: process.env,
      signal: cancel.signal,
      forceSignal: force.signal,
      // A grace period far longer than the test's timeout: only the force signal can end the step in time.
      killGraceMs: 600_000,
      executorFor: (def) => createLocalExecutor(def, { baseDir }),
      onEvent: (event) => {
        if (event.type !== "log" || !event.lines.includes("ready")) return;
        cancel.abort(new DOMException("first Ctrl-C", "AbortError"));
        // SIGTERM went to the group synchronously; the step ignores it.
        setImmediate(() => force.abort(new DOMException("second Ctrl-C", "AbortError")));
      },
    });
    expect(result.status).toBe("cancelled");
    expect(result.jobs.stubborn?.status).toBe("cancelled");
  });
});
