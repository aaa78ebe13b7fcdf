import { afterAll, describe, expect, it } from "vitest";
import type { StepContext } from "../../src/core/context.js";
import { defineAction, job, sh, step, uses, workflow, type Workflow } from "../../src/core/definition.js";
import { executors } from "../../src/executors/definitions.js";
import { compileWorkflow } from "../../src/compile.js";
import { StepError } from "../../src/engine/step-context.js";
import { eventsOf, logLines, removeTempDirs, runFake, statuses, stepStatuses } from "./helpers.js";

afterAll(removeTempDirs);

function compile(wf: Workflow) {
  return compileWorkflow(wf, { file: ".gantry/test.ts", bundle: "bundle" });
}

describe("TypeScript steps", () => {
  it("pass outputs through ctx.setOutput to a later job's ctx.needs", async () => {
    const seen: Array<Record<string, unknown>> = [];
    const wf = workflow({
      name: "outputs",
      jobs: {
        version: job({
          steps: [
            async (ctx) => {
              const r = await ctx.sh`echo 1.2.3`;
              ctx.setOutput("version", r.stdout.trim());
              ctx.setOutput("channel", "stable");
            },
          ],
        }),
        publish: job({
          needs: ["version"],
          steps: [
            async (ctx) => {
              seen.push({ needs: ctx.needs, job: ctx.job, step: ctx.step, attempt: ctx.attempt, runStatus: ctx.runStatus });
              const outputs = ctx.needs["version"]?.outputs ?? {};
              ctx.log.info(`publishing ${outputs["version"]} on ${outputs["channel"]}`);
              await ctx.exec(["echo", `exec-saw-${outputs["version"]}`]);
            },
          ],
        }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf });
    expect(h.violations).toEqual([]);
    expect(statuses(h.result)).toEqual({ version: "success", publish: "success" });
    expect(h.result.jobs.version?.outputs).toEqual({ version: "1.2.3", channel: "stable" });
    expect(eventsOf(h.events, "job.finished").find((e) => e.jobId === "version")?.outputs).toEqual({ version: "1.2.3", channel: "stable" });
    expect(seen[0]).toMatchObject({
      needs: { version: { status: "success", outputs: { version: "1.2.3", channel: "stable" } } },
      job: "publish",
      attempt: 1,
      runStatus: "success",
    });
    expect(logLines(h.events, "publish")).toEqual(["publishing 1.2.3 on stable", "exec-saw-1.2.3"]);
    expect(logLines(h.events, "version")).toEqual(["1.2.3"]);
  });

  it("ctx.sh quotes interpolated values and throws a StepError on a non-zero exit unless nothrow", async () => {
    let caught: unknown;
    let code: number | undefined;
    const scripts: string[] = [];
    const wf = workflow({
      name: "sh",
      jobs: {
        a: job({
          steps: [
            async (ctx) => {
              await ctx.sh`echo ${"it's a test"}`;
              try {
                await ctx.sh("echoerr boom\nexit 4");
              } catch (error) {
                caught = error;
              }
              code = (await ctx.exec(["exit", "3"], { nothrow: true })).exitCode;
            },
          ],
        }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf });
    for (const c of h.fakes.get("local")!.calls) if (c.script) scripts.push(c.script);
    expect(scripts[0]).toBe(`echo 'it'\\''s a test'`);
    expect(caught).toBeInstanceOf(StepError);
    expect(caught).toMatchObject({ exitCode: 4, stderr: "boom\n", message: "command failed (exit code 4): echoerr boom" });
    expect(code).toBe(3);
    expect(h.result.jobs.a?.status).toBe("success");
  });

  it("ctx.sh runs the raw template text; a non-string command or an empty script is a usage error", async () => {
    const errors: string[] = [];
    const wf = workflow({
      name: "raw",
      jobs: {
        a: job({
          steps: [
            async (ctx) => {
              for (const bad of [123, undefined, ["echo", "x"], ""]) {
                await (ctx.sh as (c: unknown) => Promise<unknown>)(bad).catch((e: Error) => errors.push(e.message));
              }
              // the fake executor does not know printf: the step fails after the script was sent
              await ctx.sh`printf '\033[1m%s\n' C:\users ${"a\\.b"}`;
            },
          ],
        }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf });
    const scripts = h.fakes.get("local")!.calls.flatMap((c) => (c.script ? [c.script] : []));
    expect(scripts).toEqual([String.raw`printf '\033[1m%s\n' C:\users 'a\.b'`]);
    expect(errors).toEqual([
      "ctx.sh needs a string or a tagged template (sh`...`), got 123",
      "ctx.sh needs a string or a tagged template (sh`...`), got undefined",
      "ctx.sh needs a string or a tagged template (sh`...`), got an array",
      "ctx.sh: the script is empty",
    ]);
  });

  it("a throwing step fails with its message logged (redacted), and always() steps still run", async () => {
    const wf = workflow({
      name: "throw",
      jobs: {
        a: job({
          steps: [
            async (ctx) => {
              ctx.log.info(`from ts: ${ctx.env["TOKEN"]}`);
              ctx.log.warn("careful");
              throw new Error(`failing with ${ctx.env["TOKEN"]} in the message`);
            },
            sh`echo skipped`,
          ],
        }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf, env: { values: { TOKEN: "s3cr3t-value" }, secretValues: ["s3cr3t-value"] } });
    expect(stepStatuses(h.events, "a")).toEqual(["failure", "skipped"]);
    const lines = eventsOf(h.events, "log").filter((e) => e.stream !== "system");
    expect(lines.flatMap((e) => e.lines.map((line) => `${e.stream}:${line}`))).toEqual([
      "stdout:from ts: ***",
      "stderr:warning: careful",
      "stderr:error: failing with *** in the message",
    ]);
    expect(eventsOf(h.events, "step.finished")[0]?.reason).toBe("failing with *** in the message");
    expect(h.result.jobs.a?.reason).toBe('step "step 1" failed: failing with *** in the message');
    expect(JSON.stringify(h.events)).not.toContain("s3cr3t-value");
    expect(JSON.stringify(h.result)).not.toContain("s3cr3t-value");
  });

  it("a step timeout stops a TypeScript step and the processes it started", async () => {
    let signalAborted = false;
    const wf = workflow({
      name: "ts-timeout",
      jobs: {
        a: job({
          steps: [
            step({ timeout: "30ms" }, async (ctx) => {
              ctx.signal.addEventListener("abort", () => (signalAborted = true));
              await ctx.sh`hang`;
            }),
          ],
        }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf });
    expect(h.violations).toEqual([]);
    expect(signalAborted).toBe(true);
    expect(stepStatuses(h.events, "a")).toEqual(["timed_out"]);
  });

  it("stops processes a step left running when it returns", async () => {
    const wf = workflow({
      name: "dangling",
      jobs: {
        a: job({
          steps: [
            async (ctx) => {
              void ctx.sh`hang`.catch(() => undefined);
            },
          ],
        }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf });
    expect(h.violations).toEqual([]);
    expect(h.result.jobs.a?.status).toBe("success");
  });

  it("runs actions with their parsed inputs", async () => {
    const got: unknown[] = [];
    const schema = {
      safeParse: (value: unknown) => ({ success: true as const, data: { ...(value as object), parsed: true } }),
    };
    const greet = defineAction<{ who: string }>({
      name: "greet",
      inputs: schema as never,
      run: async (ctx: StepContext, inputs) => {
        got.push(inputs);
        await ctx.sh`echo hello ${inputs.who}`;
      },
    });
    const wf = workflow({ name: "action", jobs: { a: job({ steps: [uses(greet, { who: "world" })] }) } });
    const h = await runFake(compile(wf), { workflow: wf });
    expect(h.result.jobs.a?.status).toBe("success");
    expect(got).toEqual([{ who: "world", parsed: true }]);
    expect(logLines(h.events, "a")).toEqual(["hello world"]);
  });

  it("ctx.container and container: steps name the executor that cannot start containers", async () => {
    const remote = executors.ssh({ host: "build.example", user: "ci" });
    const wf = workflow({
      name: "c",
      jobs: {
        a: job({ executor: remote, steps: [async (ctx) => ctx.container("alpine", async () => undefined)] }),
        b: job({ executor: remote, steps: [sh.with({ container: "alpine" })`true`] }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf });
    expect(statuses(h.result)).toEqual({ a: "failure", b: "failure" });
    expect(h.result.jobs.a?.reason).toMatch(
      /ctx\.container\("alpine"\): executor "ssh-[0-9a-f]+" \(ssh\) cannot start containers next to its jobs; run this job on executors\.container\(\) or executors\.local\(\)/,
    );
    expect(h.result.jobs.b?.reason).toMatch(
      /step "true" failed: step "true" \(container: "alpine"\): executor "ssh-[0-9a-f]+" \(ssh\) cannot/,
    );
    expect(logLines(h.events, "b").join("\n")).toContain("cannot start containers next to its jobs");
  });

  it("ctx.container checks its arguments", async () => {
    const wf = workflow({
      name: "c",
      jobs: { a: job({ steps: [async (ctx) => ctx.container("", async () => undefined)] }) },
    });
    const h = await runFake(compile(wf), { workflow: wf });
    expect(h.result.jobs.a?.reason).toContain('ctx.container needs an image name (got "")');
  });

  it("fails clearly when the run has no workflow module", async () => {
    const wf = workflow({ name: "c", jobs: { a: job({ steps: [async () => undefined] }) } });
    const h = await runFake(compile(wf));
    expect(h.result.jobs.a?.status).toBe("failure");
    expect(h.result.jobs.a?.reason).toContain("the run has no workflow module");
  });
});

describe("predicates", () => {
  it("job and step predicates get the condition context", async () => {
    const wf = workflow({
      name: "pred",
      jobs: {
        a: job({ matrix: { os: ["linux", "mac"] }, if: (ctx) => ctx.matrix.os === "linux", steps: [sh`echo on-linux`] }),
        b: job({
          env: { FLAG: "on" },
          steps: [step({ if: (ctx) => ctx.env["FLAG"] === "on" }, sh`echo flagged`), step({ if: () => false }, sh`echo never`)],
        }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf });
    expect(statuses(h.result)).toEqual({ "a (os=linux)": "success", "a (os=mac)": "skipped", b: "success" });
    expect(h.result.jobs["a (os=mac)"]?.reason).toBe("condition was false");
    expect(stepStatuses(h.events, "b")).toEqual(["success", "skipped"]);
  });

  it("a predicate job whose need failed is skipped without calling the predicate", async () => {
    let called = false;
    const wf = workflow({
      name: "pred",
      jobs: {
        a: job({ steps: [sh`exit 1`] }),
        b: job({
          needs: ["a"],
          if: () => {
            called = true;
            return true;
          },
          steps: [sh`true`],
        }),
      },
    });
    const h = await runFake(compile(wf), { workflow: wf, failFast: false });
    expect(statuses(h.result)).toEqual({ a: "failure", b: "skipped" });
    expect(called).toBe(false);
  });
});
