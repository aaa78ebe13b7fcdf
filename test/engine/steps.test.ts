import { afterAll, describe, expect, it } from "vitest";
import { eventsOf, logLines, makePlan, removeTempDirs, runFake, status, statuses, stepStatuses } from "./helpers.js";
import { GantryError } from "../../src/core/errors.js";
import { createFakeExecutor } from "../../src/executors/fake.js";

afterAll(removeTempDirs);

describe("step retry", () => {
  it("passes on the third attempt, with exponential delays read from step.retry events", async () => {
    const plan = makePlan({
      flaky: {
        steps: [
          {
            name: "flaky",
            run: "echo trying\nfail-times 2",
            retry: { attempts: 4, backoff: "exponential", delayMs: 50, maxDelayMs: 10_000 },
          },
        ],
      },
    });
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(h.result.status).toBe("success");
    const retries = eventsOf(h.events, "step.retry");
    expect(retries.map((e) => e.delayMs)).toEqual([50, 100]);
    expect(retries.map((e) => e.attempt)).toEqual([2, 3]);
    expect(retries[0]?.reason).toBe("exit code 1");
    expect(h.delays).toEqual([50, 100]);
    const finished = eventsOf(h.events, "step.finished")[0];
    expect(finished).toMatchObject({ status: "success", attempts: 3, exitCode: 0 });
    const system = eventsOf(h.events, "log").filter((e) => e.stream === "system");
    expect(system.flatMap((e) => e.lines)).toEqual([
      "attempt 1 of 4 failed (exit code 1); retrying in 50ms",
      "attempt 2 of 4 failed (exit code 1); retrying in 100ms",
    ]);
    expect(system.every((e) => e.stepIndex === 0)).toBe(true);
    // one step.started, then the retries, then one step.finished
    const types = h.events.filter((e) => e.type.startsWith("step.")).map((e) => e.type);
    expect(types).toEqual(["step.started", "step.retry", "step.retry", "step.finished"]);
  });

  it("gives up after the last attempt with the last exit code", async () => {
    const plan = makePlan({ bad: { steps: [{ run: "exit 7", retry: { attempts: 3, backoff: "linear", delayMs: 10 } }] } });
    const h = await runFake(plan);
    expect(eventsOf(h.events, "step.retry").map((e) => e.delayMs)).toEqual([10, 20]);
    expect(eventsOf(h.events, "step.finished")[0]).toMatchObject({ status: "failure", attempts: 3, exitCode: 7, reason: "exit code 7" });
    expect(h.result.jobs.bad).toMatchObject({ status: "failure", attempts: 1 });
  });

  it("retries infrastructure faults of exec", async () => {
    const plan = makePlan({ a: { steps: [{ run: "fail-times 1\nthrow connection lost", retry: { attempts: 3, delayMs: 5 } }] } });
    const h = await runFake(plan);
    expect(eventsOf(h.events, "step.retry").map((e) => e.reason)).toEqual(["exit code 1", "executor error: connection lost"]);
    expect(eventsOf(h.events, "step.finished")[0]).toMatchObject({
      status: "failure",
      attempts: 3,
      reason: "executor error: connection lost",
    });
  });
});

describe("timeouts", () => {
  it("a step timeout ends the step timed_out and the job timed_out", async () => {
    const plan = makePlan({ slow: { steps: [{ name: "slow", run: "echo start\nhang", timeoutMs: 30 }, "echo not-reached"] } });
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(stepStatuses(h.events, "slow")).toEqual(["timed_out", "skipped"]);
    expect(h.result.jobs.slow).toMatchObject({ status: "timed_out", reason: 'step "slow" timed out after 30ms' });
    expect(h.result.status).toBe("failure");
    expect(logLines(h.events, "slow")).toEqual(["start"]);
  });

  it("each attempt gets its own timeout", async () => {
    const plan = makePlan({ slow: { steps: [{ run: "hang", timeoutMs: 20, retry: { attempts: 2, delayMs: 5 } }] } });
    const h = await runFake(plan);
    expect(eventsOf(h.events, "step.retry")).toHaveLength(1);
    expect(eventsOf(h.events, "step.finished")[0]).toMatchObject({ status: "timed_out", attempts: 2 });
  });

  it("a job timeout stops the running step; later steps are skipped, always() steps still run", async () => {
    const plan = makePlan({
      slow: { timeoutMs: 40, steps: ["sleep 1", "hang", "echo never", { run: "echo cleanup", if: status("always") }] },
    });
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(stepStatuses(h.events, "slow")).toEqual(["success", "timed_out", "skipped", "success"]);
    expect(h.result.jobs.slow).toMatchObject({ status: "timed_out", reason: "job timed out after 40ms" });
    expect(logLines(h.events, "slow")).toEqual(["cleanup"]);
  });

  it("a job timeout is not retried by the step retry", async () => {
    const plan = makePlan({ slow: { timeoutMs: 30, steps: [{ run: "hang", retry: { attempts: 3, delayMs: 1 } }] } });
    const h = await runFake(plan);
    expect(eventsOf(h.events, "step.retry")).toHaveLength(0);
    expect(h.result.jobs.slow?.status).toBe("timed_out");
  });
});

describe("step conditions", () => {
  it("after a failure only always() and failure() steps run", async () => {
    const plan = makePlan({
      a: {
        steps: [
          "echo one",
          "exit 1",
          { run: "echo cleanup", if: status("always") },
          "echo no",
          { run: "echo on-failure", if: status("failure") },
        ],
      },
    });
    const h = await runFake(plan);
    expect(stepStatuses(h.events, "a")).toEqual(["success", "failure", "success", "skipped", "success"]);
    expect(logLines(h.events, "a")).toEqual(["one", "cleanup", "on-failure"]);
    expect(h.result.jobs.a).toMatchObject({ status: "failure", reason: 'step "exit 1" failed: exit code 1' });
    const skipped = eventsOf(h.events, "step.finished").find((e) => e.stepIndex === 3);
    expect(skipped).toMatchObject({ attempts: 0, reason: "condition success() did not hold" });
  });

  it("a skipped step does not fail later success() steps", async () => {
    const plan = makePlan({ a: { steps: [{ run: "echo x", if: status("failure") }, "echo after"] } });
    const h = await runFake(plan);
    expect(stepStatuses(h.events, "a")).toEqual(["skipped", "success"]);
    expect(h.result.jobs.a?.status).toBe("success");
  });

  it("a shell condition runs in the executor: exit 0 runs the step", async () => {
    const plan = makePlan({
      a: {
        steps: [
          "write marker yes",
          { run: "echo has-marker", if: { kind: "sh", run: "exists marker" } },
          { run: "echo has-other", if: { kind: "sh", run: "exists other" } },
        ],
      },
    });
    const h = await runFake(plan);
    expect(stepStatuses(h.events, "a")).toEqual(["success", "success", "skipped"]);
    expect(logLines(h.events, "a")).toEqual(["has-marker"]);
  });

  it("a job-level shell condition runs after setupJob and can skip the job", async () => {
    const plan = makePlan({
      a: { if: { kind: "sh", run: "exit 1" }, steps: ["echo never"] },
      b: { if: { kind: "sh", run: "true" }, steps: ["echo yes"] },
    });
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toEqual({ a: "skipped", b: "success" });
    expect(h.result.jobs.a?.reason).toBe("condition `exit 1` did not hold (exit code 1)");
    const calls = h.fakes
      .get("local")!
      .calls.filter((c) => c.jobId === "a")
      .map((c) => c.method);
    expect(calls).toEqual(["setupJob", "exec", "cleanupJob"]);
  });
});

describe("continueOnError", () => {
  it("a step's failure is recorded but the job goes on and succeeds", async () => {
    const plan = makePlan({ lint: { steps: [{ run: "echo warnings\nexit 2", continueOnError: true }, "echo after-lint"] } });
    const h = await runFake(plan);
    expect(stepStatuses(h.events, "lint")).toEqual(["failure", "success"]);
    expect(h.result.jobs.lint?.status).toBe("success");
    expect(h.result.status).toBe("success");
  });

  it("a job's failure shows as failure but counts as success for its dependants and the run", async () => {
    const plan = makePlan({
      optional: { continueOnError: true, steps: ["exit 5"] },
      lint: {},
      deploy: { needs: ["optional", "lint"], steps: ["echo deployed"] },
      onFail: { needs: ["optional"], if: status("failure") },
    });
    const h = await runFake(plan);
    expect(statuses(h.result)).toEqual({ optional: "failure", lint: "success", deploy: "success", onFail: "skipped" });
    expect(h.result.status).toBe("success");
  });
});

describe("job retry", () => {
  it("re-runs the whole job with a fresh setup after a failed setupJob", async () => {
    const plan = makePlan({
      a: { env: { FAKE_FAIL_SETUP_JOB: "1" }, retry: { attempts: 3, backoff: "constant", delayMs: 25 }, steps: ["echo ran"] },
    });
    const h = await runFake(plan);
    expect(h.violations).toEqual([]);
    expect(h.result.jobs.a).toMatchObject({ status: "success", attempts: 2 });
    expect(eventsOf(h.events, "job.retry")).toMatchObject([{ jobId: "a", attempt: 2, delayMs: 25 }]);
    expect(eventsOf(h.events, "job.started").map((e) => e.attempt)).toEqual([1, 2]);
    const calls = h.fakes.get("local")!.calls.map((c) => `${c.method}${c.attempt ?? ""}`);
    expect(calls).toEqual(["setupWorkspace", "setupJob1", "cleanupJob1", "setupJob2", "exec2", "cleanupJob2", "cleanupWorkspace"]);
  });

  it("does not re-run the job after an infrastructure error that says a retry cannot help", async () => {
    const plan = makePlan({ a: { retry: { attempts: 3, backoff: "constant", delayMs: 25 }, steps: ["echo ran"] } });
    const h = await runFake(plan, {
      executorFor: (def) => {
        const fake = createFakeExecutor({ name: def.name });
        return {
          ...fake,
          name: fake.name,
          setupJob: () =>
            Promise.reject(new GantryError("EXECUTOR_FAILED", "ssh host h:22: the host key is unknown", { retryable: false })),
        };
      },
    });
    expect(h.result.jobs.a).toMatchObject({ status: "failure", attempts: 1 });
    expect(eventsOf(h.events, "job.retry")).toEqual([]);
    expect(logLines(h.events, "a")).toEqual([
      "ssh host h:22: the host key is unknown",
      "not retrying the job: another attempt cannot fix this error",
    ]);
  });

  it("GANTRY_WORKSPACE is the job directory as the executor's processes see it (jobPath)", async () => {
    const h = await runFake(makePlan({ a: { steps: ["env GANTRY_WORKSPACE"] } }), {
      executorFor: (def) => {
        const fake = createFakeExecutor({ name: def.name });
        return { ...fake, name: fake.name, jobPath: (info) => `/workspace/jobs/${info.job.id}-${info.attempt}` };
      },
    });
    expect(logLines(h.events, "a")).toEqual(["/workspace/jobs/a-1"]);
  });

  it("re-runs the job when a step fails", async () => {
    const plan = makePlan({ a: { retry: { attempts: 2, delayMs: 1 }, steps: ["echo first", "fail-times 1"] } });
    const h = await runFake(plan);
    expect(h.result.jobs.a).toMatchObject({ status: "success", attempts: 2 });
    expect(logLines(h.events, "a").filter((l) => l === "first")).toHaveLength(2);
    expect(eventsOf(h.events, "job.finished")).toHaveLength(1);
  });
});

describe("environment", () => {
  it("builds process env: process < workflow < job < step, plus GANTRY_* variables", async () => {
    const plan = makePlan({
      a: { env: { B: "job", C: "job", MATRIX_OS: "linux" }, steps: [{ run: "echo $A $B $C $D $MATRIX_OS", env: { C: "step" } }] },
    });
    const h = await runFake(plan, {
      processEnv: { PATH: "/usr/bin", A: "process", B: "process" },
      env: { values: { A: "workflow", D: "workflow" }, secretValues: [] },
    });
    expect(logLines(h.events, "a")).toEqual(["workflow job step workflow linux"]);
    const exec = h.fakes.get("local")!.calls.find((c) => c.method === "exec");
    expect(exec?.env).toMatchObject({ PATH: "/usr/bin", GANTRY: "1", GANTRY_RUN_ID: "run-1", GANTRY_JOB: "a" });
    expect(exec?.env?.CI).toBeUndefined();
  });

  it("redacts secrets in logs, reasons and outputs", async () => {
    const plan = makePlan({ a: { steps: ["echo token=$TOKEN\nechoerr err $TOKEN\nexit 3"] } });
    const h = await runFake(plan, { env: { values: { TOKEN: "hunter2-secret" }, secretValues: ["hunter2-secret"] } });
    expect(logLines(h.events, "a")).toEqual(["token=***", "err ***"]);
    expect(JSON.stringify(h.events)).not.toContain("hunter2-secret");
  });
});
