/**
 * Ephemeral containers through the engine, on Docker and Podman:
 * `ctx.container(image, fn)` on a container executor (shared and isolated
 * mode) and on a local executor through the `ContainerRuntime`, and `sh`
 * steps with `container:`. Real executors, real engines; the engine's
 * labels tell whether a container was left behind.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { StepContext } from "../../src/core/context.js";
import type { GantryEvent } from "../../src/core/events.js";
import { always, job, sh, step, workflow, type ExecutorDef, type Workflow } from "../../src/core/definition.js";
import { executors } from "../../src/executors/definitions.js";
import { compileWorkflow } from "../../src/compile.js";
import { createExecutorProvider } from "../../src/cli/executors.js";
import { connectEngine, createContainerRuntime } from "../../src/executors/container/index.js";
import { eventsOf, logLines, runFake, statuses, stepStatuses, type Harness } from "../engine/helpers.js";
import { BUSYBOX, DEBIAN, NOSHELL, engineForSuite, type TestEngine } from "../support/engines.js";

const engines = {
  docker: await engineForSuite("docker", "ephemeral containers on docker"),
  podman: await engineForSuite("podman", "ephemeral containers on podman"),
};
process.env.GANTRY_TEST_HOST_ONLY = "runner-only"; // in the runner's env: local jobs see it, their containers must not

const base = mkdtempSync(join(tmpdir(), "gantry-ephemeral-test-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let counter = 0;

/** Containers of `runId` with the ephemeral role, as the engine lists them. */
async function ephemeralLeft(e: TestEngine, runId: string): Promise<string[]> {
  const eng = await connectEngine(e.address);
  const list = await eng.docker.listContainers({ all: true, filters: { label: [`gantry.run=${runId}`, "gantry.role=ephemeral"] } });
  return list.map((c) => c.Id);
}

/** Labels of the ephemeral containers of `runId`. */
async function ephemeralLabels(e: TestEngine, runId: string): Promise<Array<Record<string, string>>> {
  const eng = await connectEngine(e.address);
  const list = await eng.docker.listContainers({ all: true, filters: { label: [`gantry.run=${runId}`, "gantry.role=ephemeral"] } });
  return list.map((c) => c.Labels);
}

interface Run extends Harness {
  readonly runId: string;
}

async function runOn(
  e: TestEngine,
  build: (runId: string) => Workflow,
  options: { signal?: AbortSignal; onEvent?: (event: GantryEvent) => void } = {},
): Promise<Run> {
  const runId = `eph-${process.pid}-${++counter}`;
  const wf = build(runId);
  const plan = compileWorkflow(wf, { file: ".gantry/test.ts", bundle: "bundle" });
  const runDir = mkdtempSync(join(base, "run-"));
  const h = await runFake(plan, {
    workflow: wf,
    runId,
    runDir,
    repoDir: runDir,
    processEnv: process.env,
    executorFor: createExecutorProvider().executorFor,
    containers: createContainerRuntime({ engine: e.address, pull: "never" }),
    killGraceMs: 500,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  });
  return { ...h, runId };
}

const fail = (message: string): never => {
  throw new Error(message);
};

for (const kind of ["docker", "podman"] as const) {
  const engine = engines[kind];
  describe.skipIf(!engine)(`ephemeral containers on ${kind}`, () => {
    const e = engine as TestEngine;
    const onContainer = (mode: "shared" | "isolated", image = DEBIAN): ExecutorDef =>
      executors.container({ name: `eph-${mode}-${counter}`, image, mode, pull: "never", copyRepo: false, engine: e.address });
    const onLocal = (): ExecutorDef => executors.local({ copyRepo: false });

    const jobPwd: Record<string, string> = {};
    const sharesTheWorkspace =
      (executor: () => ExecutorDef, expectedPwd: (jobPwd: string) => string, expectedWorkspace: (jobPwd: string) => string) => async () => {
        const seen: Record<string, unknown> = {};
        const r = await runOn(e, (runId) =>
          workflow({
            name: "eph",
            jobs: {
              j: job({
                executor: executor(),
                env: { GREETING: "hello-from-env" },
                steps: [
                  sh`echo from-job > shared.txt; pwd > job-pwd.txt`,
                  async (ctx: StepContext) => {
                    jobPwd[runId] = (await ctx.sh`cat job-pwd.txt`).stdout.trim();
                    const value = await ctx.container(BUSYBOX, async (c) => {
                      const r1 = await c.sh`cat shared.txt; echo "$GREETING"; pwd`;
                      seen.env = (
                        await c.sh`echo "ws=\${GANTRY_WORKSPACE:-unset} repo=\${GANTRY_REPO:-unset} host=\${GANTRY_TEST_HOST_ONLY:-unset}"`
                      ).stdout.trim();
                      const r2 = await c.exec(["sh", "-c", "test -e /bin/bash && echo bash || echo no-bash"]);
                      await c.sh`echo from-ephemeral > back.txt`;
                      seen.labels = await ephemeralLabels(e, runId);
                      const failed = await c.sh("exit 7").catch((error: unknown) => error);
                      const tolerated = await c.exec(["sh", "-c", "exit 5"], { nothrow: true });
                      seen.failed = (failed as { exitCode?: number }).exitCode;
                      seen.tolerated = tolerated.exitCode;
                      return { lines: r1.stdout.trim().split("\n"), shell: r2.stdout.trim() };
                    });
                    seen.value = value;
                    seen.leftInside = await ephemeralLeft(e, runId);
                  },
                  sh`cat back.txt`,
                ],
              }),
            },
          }),
        );
        expect(statuses(r.result)).toEqual({ j: "success" });
        const pwd = jobPwd[r.runId] ?? fail("no job pwd");
        expect(seen.value).toEqual({ lines: ["from-job", "hello-from-env", expectedPwd(pwd)], shell: "no-bash" });
        expect(seen.env).toBe(`ws=${expectedWorkspace(pwd)} repo=unset host=unset`); // the runner's own env stays outside
        expect(seen.failed).toBe(7);
        expect(seen.tolerated).toBe(5);
        expect(seen.leftInside).toEqual([]);
        expect(seen.labels).toEqual([
          expect.objectContaining({
            "gantry.run": r.runId,
            "gantry.job": "j",
            "gantry.role": "ephemeral",
            "gantry.owner": `${hostname()}:${process.pid}`,
          }),
        ]);
        const lines = logLines(r.events, "j");
        expect(lines).toContain("from-ephemeral"); // the later step on the job's executor sees the file
        expect(lines).toContain("hello-from-env"); // the container's output is in the step's log
        expect(await ephemeralLeft(e, r.runId)).toEqual([]);
      };

    it(
      "ctx.container on a shared-mode container job shares the job directory",
      sharesTheWorkspace(
        () => onContainer("shared"),
        (p) => p,
        (p) => p, // the job directory: the same path in the ephemeral container
      ),
      120_000,
    );
    it(
      "ctx.container on an isolated-mode container job shares the job directory",
      sharesTheWorkspace(
        () => onContainer("isolated"),
        (p) => p,
        (p) => p,
      ),
      120_000,
    );
    it(
      "ctx.container on a local job bind-mounts the job directory at /workspace",
      sharesTheWorkspace(
        onLocal,
        () => "/workspace",
        () => "/workspace",
      ),
      120_000,
    );

    for (const where of ["container", "local"] as const) {
      it(`removes the container when the callback throws, and when the step times out (${where} job)`, async () => {
        const left: Record<string, string[]> = {};
        const r = await runOn(e, (runId) =>
          workflow({
            name: "eph-fail",
            jobs: {
              j: job({
                executor: where === "container" ? onContainer("shared", BUSYBOX) : onLocal(),
                steps: [
                  step({ name: "throws" }, async (ctx: StepContext) => {
                    await ctx.container(BUSYBOX, async (c) => {
                      await c.sh`echo before-throw`;
                      throw new Error("callback gave up");
                    });
                  }),
                  step({ name: "check-after-throw", if: always() }, async () => {
                    left.afterThrow = await ephemeralLeft(e, runId);
                  }),
                  step({ name: "hangs", if: always(), timeout: "2s" }, async (ctx: StepContext) => {
                    await ctx.container(BUSYBOX, async (c) => c.sh`echo sleeping; sleep 300`);
                  }),
                  step({ name: "check-after-timeout", if: always() }, async () => {
                    left.afterTimeout = await ephemeralLeft(e, runId);
                  }),
                ],
              }),
            },
          }),
        );
        expect(stepStatuses(r.events, "j")).toEqual(["failure", "success", "timed_out", "success"]);
        expect(r.result.jobs.j?.reason).toContain("callback gave up");
        expect(logLines(r.events, "j")).toEqual(expect.arrayContaining(["before-throw", "sleeping", "error: callback gave up"]));
        expect(left).toEqual({ afterThrow: [], afterTimeout: [] });
        expect(await ephemeralLeft(e, r.runId)).toEqual([]);
      }, 120_000);
    }

    it("cancelling the run kills the ephemeral container's process and removes it", async () => {
      const cancel = new AbortController();
      const r = await runOn(
        e,
        () =>
          workflow({
            name: "eph-cancel",
            jobs: {
              j: job({
                executor: onLocal(),
                steps: [
                  async (ctx: StepContext) => {
                    await ctx.container(BUSYBOX, async (c) => c.sh`echo waiting-for-cancel; sleep 300`);
                  },
                ],
              }),
            },
          }),
        {
          signal: cancel.signal,
          onEvent: (event) => {
            if (event.type === "log" && event.lines.includes("waiting-for-cancel")) cancel.abort(new Error("cancelled by the test"));
          },
        },
      );
      expect(statuses(r.result)).toEqual({ j: "cancelled" });
      expect(await ephemeralLeft(e, r.runId)).toEqual([]);
    }, 120_000);

    for (const where of ["container", "local"] as const) {
      it(`runs a sh step with container: in that image, with retries and failures (${where} job)`, async () => {
        let leftDuring: string[] | undefined;
        const r = await runOn(e, (runId) =>
          workflow({
            name: "eph-step",
            jobs: {
              j: job({
                executor: where === "container" ? onContainer("shared", DEBIAN) : onLocal(),
                env: { WHO: "step-env" },
                steps: [
                  sh.with({
                    container: BUSYBOX,
                  })`test ! -e /bin/bash && test -x /bin/busybox && echo BusyBox > marker; echo "$WHO in $(pwd)"`,
                  sh.with({ container: BUSYBOX, retry: { attempts: 3, delay: "1s" } })`
                    if [ -f tried ]; then echo second-try; else touch tried; echo first-try; exit 3; fi`,
                  sh`cat marker`,
                  sh.with({ container: BUSYBOX, name: "fails", continueOnError: true })`echo about-to-fail; exit 4`,
                  sh.with({ container: BUSYBOX, name: "hangs", timeout: "2s", continueOnError: true })`echo hanging; sleep 300`,
                  step({ name: "check", if: always() }, async () => {
                    leftDuring = await ephemeralLeft(e, runId);
                  }),
                ],
              }),
            },
          }),
        );
        expect(stepStatuses(r.events, "j")).toEqual(["success", "success", "success", "failure", "timed_out", "success"]);
        const finished = eventsOf(r.events, "step.finished");
        expect(finished.map((f) => f.attempts)).toEqual([1, 2, 1, 1, 1, 1]);
        expect(finished[3]).toMatchObject({ exitCode: 4, reason: "exit code 4" });
        const lines = logLines(r.events, "j");
        expect(lines).toEqual(expect.arrayContaining(["first-try", "second-try", "BusyBox", "about-to-fail", "hanging"]));
        expect(lines.some((l) => l.startsWith("step-env in /"))).toBe(true);
        expect(leftDuring).toEqual([]);
        expect(await ephemeralLeft(e, r.runId)).toEqual([]);
      }, 120_000);
    }

    it("says clearly when the image is missing or has no /bin/sh", async () => {
      const r = await runOn(e, () =>
        workflow({
          name: "eph-bad",
          jobs: {
            a: job({ executor: onContainer("shared", BUSYBOX), steps: [sh.with({ container: "gantry-test/missing:1" })`true`] }),
            b: job({
              executor: onLocal(),
              steps: [
                async (ctx: StepContext) => {
                  await ctx.container("gantry-test/missing:1", async () => 1);
                },
              ],
            }),
            c: job({ executor: onLocal(), steps: [sh.with({ container: NOSHELL })`true`] }),
          },
        }),
      );
      expect(statuses(r.result)).toEqual({ a: "failure", b: "failure", c: "failure" });
      const missing = /image gantry-test\/missing:1 on (docker|podman) \S+ at unix:\/\/\S+: not present and the pull policy is "never"/;
      expect(r.result.jobs.a?.reason).toMatch(missing);
      expect(r.result.jobs.b?.reason).toMatch(missing);
      expect(r.result.jobs.c?.reason).toContain(`image ${NOSHELL} has no /bin/sh;`);
      expect(logLines(r.events).some((l) => / at /.test(l) && /\.(ts|js):\d+/.test(l))).toBe(false); // no stack trace
      expect(await ephemeralLeft(e, r.runId)).toEqual([]);
    }, 120_000);
  });
}

describe("ephemeral containers without an engine", () => {
  it("a local job without a container runtime says so", async () => {
    const wf = workflow({
      name: "no-runtime",
      jobs: {
        a: job({
          executor: executors.local({ copyRepo: false }),
          steps: [
            async (ctx) => {
              await ctx.container(BUSYBOX, async () => 1);
            },
          ],
        }),
      },
    });
    const runDir = mkdtempSync(join(base, "run-"));
    const h = await runFake(compileWorkflow(wf, { file: ".gantry/test.ts", bundle: "bundle" }), {
      workflow: wf,
      runDir,
      repoDir: runDir,
      executorFor: createExecutorProvider().executorFor,
    });
    expect(h.result.jobs.a?.reason).toContain(`ctx.container("${BUSYBOX}") needs a container engine, but this run was started without`);
  });

  it("names the engine problem when no engine answers", async () => {
    const missing = join(base, "no-such.sock");
    const wf = workflow({
      name: "no-engine",
      jobs: { a: job({ executor: executors.local({ copyRepo: false }), steps: [sh.with({ container: BUSYBOX })`true`] }) },
    });
    const runDir = mkdtempSync(join(base, "run-"));
    const h = await runFake(compileWorkflow(wf, { file: ".gantry/test.ts", bundle: "bundle" }), {
      workflow: wf,
      runDir,
      repoDir: runDir,
      executorFor: createExecutorProvider().executorFor,
      containers: createContainerRuntime({ engine: missing }),
    });
    expect(h.result.jobs.a?.reason).toContain(
      `no container engine reachable: ${missing} (option): socket does not exist; start that engine`,
    );
  });
});
