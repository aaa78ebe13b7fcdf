import { describe, expect, test } from "vitest";
import { defineAction, env, executors, hashFiles, job, sh, step, uses, workflow, type Workflow } from "gantry";
import { z } from "zod";
import { issuesOf } from "./helpers.js";

// Untyped builder: these workflows are wrong on purpose, the types would refuse most of them.
const wf = (jobs: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ kind: "workflow", name: "ci", jobs, ...extra });
const ok = (extra: Record<string, unknown> = {}) => ({ kind: "job", steps: [sh`true`], ...extra });

describe("compileWorkflow reports", () => {
  test("keyed caches: a path outside the job directory, an empty key, no paths, an empty hashFiles()", () => {
    expect(
      issuesOf(
        wf({
          a: ok({ caches: [{ key: "deps", paths: ["../up", "/abs", "ok"] }] }),
          b: ok({
            caches: [
              { key: [], paths: ["x"] },
              { key: "k", paths: [] },
            ],
          }),
          c: ok({ caches: [{ key: ["deps", hashFiles()], paths: ["x"], restoreKeys: [""] }] }),
        }),
      ),
    ).toEqual([
      "jobs.b.caches[0].key: a cache key needs at least one part",
      "jobs.b.caches[1].paths: a cache needs at least one path",
      "jobs.c.caches[0].key[1].patterns: hashFiles() needs at least one pattern",
      "jobs.c.caches[0].restoreKeys[0]: must not be empty",
      'jobs.a.caches[0].paths[0]: path "../up" contains ".."; paths must stay inside the job directory',
      'jobs.a.caches[0].paths[1]: path "/abs" is absolute; use a path relative to the job directory',
    ]);
  });

  test("a misspelled need, with a suggestion", () => {
    expect(issuesOf(wf({ build: ok(), test: ok({ needs: ["biuld"] }) }))).toEqual([
      'jobs.test.needs[0]: no job named "biuld" (did you mean "build"?)',
    ]);
  });

  test("an unknown need without a close name", () => {
    expect(issuesOf(wf({ build: ok(), test: ok({ needs: ["deploy"] }) }))).toEqual(['jobs.test.needs[0]: no job named "deploy"']);
  });

  test("a job that needs itself", () => {
    expect(issuesOf(wf({ build: ok({ needs: ["build"] }) }))).toEqual(['jobs.build.needs[0]: job "build" cannot need itself']);
  });

  test("a two-job cycle and a three-job cycle, printed", () => {
    expect(
      issuesOf(
        wf({
          build: ok({ needs: ["test"] }),
          test: ok({ needs: ["build"] }),
          a: ok({ needs: ["c"] }),
          b: ok({ needs: ["a"] }),
          c: ok({ needs: ["b"] }),
        }),
      ),
    ).toEqual(["jobs.build.needs: dependency cycle: build -> test -> build", "jobs.a.needs: dependency cycle: a -> c -> b -> a"]);
  });

  test("duplicate job names", () => {
    expect(issuesOf(wf({ build: ok(), compile: ok({ name: "build" }) }))).toEqual([
      'jobs.compile.name: duplicate job name "build" (jobs.build has the same name)',
    ]);
  });

  test("an artifact consumed but never produced, and one produced by a job not needed", () => {
    expect(
      issuesOf(
        wf({
          build: ok({ outputs: { artifacts: { dist: "dist" } } }),
          test: ok({ inputs: { artifacts: { dist: "dist", coverage: "cov" } } }),
        }),
      ),
    ).toEqual([
      'jobs.test.inputs.artifacts.dist: artifact "dist" is not produced by any job that "test" needs (it is produced by "build": add it to needs)',
      'jobs.test.inputs.artifacts.coverage: artifact "coverage" is not produced by any job that "test" needs',
    ]);
  });

  test("an artifact produced transitively is fine; two producers in the same ancestry are not", () => {
    expect(
      issuesOf(
        wf({
          a: ok({ outputs: { artifacts: { dist: "dist" } } }),
          b: ok({ needs: ["a"] }),
          c: ok({ needs: ["b"], inputs: { artifacts: { dist: "dist" } } }),
          d: ok({ outputs: { artifacts: { dist: "out" } } }),
          e: ok({ needs: ["c", "d"], inputs: { artifacts: { dist: "dist" } } }),
        }),
      ),
    ).toEqual([
      'jobs.e.inputs.artifacts.dist: artifact "dist" is produced by more than one job that "e" needs: "a", "d"; rename one of them',
    ]);
  });

  test("artifact paths that are absolute or contain ..", () => {
    expect(
      issuesOf(
        wf({
          build: ok({ outputs: { artifacts: { dist: "/etc", up: "a/../../b" } } }),
          test: ok({ needs: ["build"], inputs: { artifacts: { dist: "../x" } } }),
        }),
      ),
    ).toEqual([
      'jobs.build.outputs.artifacts.dist: path "/etc" is absolute; use a path relative to the job directory',
      'jobs.build.outputs.artifacts.up: path "a/../../b" contains ".."; paths must stay inside the job directory',
      'jobs.test.inputs.artifacts.dist: path "../x" contains ".."; paths must stay inside the job directory',
    ]);
  });

  test("invalid durations, everywhere they appear", () => {
    expect(
      issuesOf(
        wf(
          {
            build: ok({
              timeout: "15 mins",
              steps: [sh("true", { timeout: "0s" as never, retry: { attempts: 2, delay: "soon" as never } })],
            }),
          },
          { defaults: { timeout: 15 } },
        ),
      ),
    ).toEqual([
      'defaults.timeout: invalid duration 15 (use a number and a unit: ms, s, m, h or d, e.g. "30s", "15m", "1h30m")',
      'jobs.build.timeout: invalid duration "15 mins" (use a number and a unit: ms, s, m, h or d, e.g. "30s", "15m", "1h30m")',
      "jobs.build.steps[0].timeout: must be longer than 0",
      'jobs.build.steps[0].retry.delay: invalid duration "soon" (use a number and a unit: ms, s, m, h or d, e.g. "30s", "15m", "1h30m")',
    ]);
  });

  test("invalid cron expressions", () => {
    expect(issuesOf(wf({ build: ok() }, { on: { cron: ["0 3 * * *", "61 * * * *"] } }))).toEqual([
      'on.cron[1]: invalid cron expression "61 * * * *": Invalid value for minute: 61',
    ]);
    expect(issuesOf(wf({ build: ok() }, { on: { cron: "every day" } }))).toHaveLength(1);
    expect(issuesOf(wf({ build: ok() }, { on: { cron: "every day" } }))[0]).toMatch(/^on\.cron: invalid cron expression "every day": /);
  });

  test("a matrix that expands to nothing or to too many jobs", () => {
    expect(issuesOf(wf({ test: ok({ matrix: { node: ["20"], exclude: [{ node: "20" }] } }) }))).toEqual([
      "jobs.test.matrix: matrix expands to zero jobs (every combination is excluded, or an axis has no values)",
    ]);
    const big = { a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], c: [1, 2, 3] };
    expect(issuesOf(wf({ test: ok({ matrix: big }) }))).toEqual([
      "jobs.test.matrix: matrix expands to 300 jobs, more than the limit of 256 (raise matrixLimit if this is intended)",
    ]);
    expect(issuesOf(wf({ test: ok({ matrix: { ...big, d: big.a, e: big.a } }) }, { matrixLimit: 10 }))).toEqual([
      "jobs.test.matrix: matrix expands to about 30000 jobs, more than the limit of 10 (raise matrixLimit if this is intended)",
    ]);
    expect(issuesOf(wf({ test: ok({ matrix: { a: [1, 2, 3] } }) }), { matrixLimit: 2 })).toEqual([
      "jobs.test.matrix: matrix expands to 3 jobs, more than the limit of 2 (raise matrixLimit if this is intended)",
    ]);
  });

  test("bad matrix shapes", () => {
    expect(issuesOf(wf({ test: ok({ matrix: { node: "20", os: [{}], exclude: [{ nod: "20" }] } }) }))).toEqual([
      'jobs.test.matrix.node: an axis must be an array of values, got "20"',
      "jobs.test.matrix.os[0]: matrix values must be strings, numbers or booleans, got an object",
      'jobs.test.matrix.exclude[0].nod: unknown axis "nod"',
    ]);
    expect(issuesOf(wf({ test: ok({ matrix: { node: ["18", "20"], exclude: [{ nde: "18" }] } }) }))).toEqual([
      'jobs.test.matrix.exclude[0].nde: unknown axis "nde" (did you mean "node"?)',
    ]);
  });

  test("uses() inputs validated against the action's schema", () => {
    const deploy = defineAction({
      name: "deploy",
      inputs: z.strictObject({ target: z.enum(["staging", "prod"]), replicas: z.number().int() }),
      run: () => {},
    });
    const bad = { kind: "uses", action: deploy, inputs: { target: "qa", replicas: 2 } };
    const issues = issuesOf(wf({ ship: ok({ steps: [sh`true`, bad] }) }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^jobs\.ship\.steps\[1\]\.inputs\.target: invalid input for action "deploy": /);
    expect(issuesOf(wf({ ship: ok({ steps: [uses(deploy, { target: "prod", replicas: 1.5 })] }) }))[0]).toMatch(
      /^jobs\.ship\.steps\[0\]\.inputs\.replicas: /,
    );
  });

  test("required env missing when options.env is given, and not checked without it", () => {
    const w = wf({ build: ok() }, { env: [env.static({ CI: "true" }), env.required("CI", "NPM_TOKEN", "HOME")] });
    expect(issuesOf(w, { env: { HOME: "/root", NPM_TOKEN: undefined } })).toEqual([
      'env[1].names[1]: workflow "ci" needs the environment variable NPM_TOKEN, which is not set; set it or pass --env NPM_TOKEN=... / --secret NPM_TOKEN=...',
    ]);
    expect(() => issuesOf(w)).toThrow(/the workflow compiled/);
  });

  test("unknown executor options, naming the option", () => {
    const w = wf({
      build: ok({ executor: executors.container({ imag: "node:20", image: "node:20" } as never) }),
      k: ok({ executor: { kind: "lambda", options: {} } }),
    });
    expect(issuesOf(w)).toEqual([
      'jobs.build.executor.options: unknown option "imag" (did you mean "image"?)',
      'jobs.k.executor.kind: executor kind "lambda" is not available in this Gantry; use one of executors.local(), executors.container(), executors.ssh()',
    ]);
    // There is no Kubernetes executor yet: refused at plan time, not at run time.
    expect(issuesOf(wf({ p: ok({ executor: executors.kubernetes({ image: "alpine" }) }) }))).toEqual([
      'jobs.p.executor.kind: executor kind "kubernetes" is not available in this Gantry; use one of executors.local(), executors.container(), executors.ssh()',
    ]);
    expect(issuesOf(wf({ s: ok({ executor: executors.ssh({ user: "ci", mode: "pol" as never }) }) }))).toEqual([
      'jobs.s.executor.options.mode: expected "shared", "dedicated" or "pool", got "pol"',
    ]);
    expect(issuesOf(wf({ s: ok({ executor: executors.ssh({ user: "ci" }) }) }))).toEqual([
      "jobs.s.executor.options: an ssh executor needs host or hosts",
    ]);
  });

  test("executors with the same name but different options", () => {
    const a = executors.container({ name: "node", image: "node:20" });
    const b = executors.container({ name: "node", image: "node:22" });
    expect(issuesOf(wf({ a: ok({ executor: a }), b: ok({ executor: b }), c: ok({ executor: a }) }))).toEqual([
      'jobs.b.executor: executor "node" is defined twice with different options (first at jobs.a.executor); give one of them another name',
    ]);
  });

  test("retry attempts below 1 and other retry mistakes", () => {
    expect(
      issuesOf(
        wf(
          {
            build: ok({
              retry: { attempts: 0 },
              steps: [step({ retry: { attempts: 2, backoff: "quadratic", jitter: 2 } as never }, sh`x`)],
            }),
          },
          { defaults: { retry: { attemps: 3 } } },
        ),
      ),
    ).toEqual([
      "defaults.retry.attempts: required, but missing",
      'defaults.retry: unknown option "attemps" (did you mean "attempts"?)',
      "jobs.build.retry.attempts: retry attempts must be at least 1, got 0",
      'jobs.build.steps[0].retry.backoff: expected "constant", "linear" or "exponential", got "quadratic"',
      "jobs.build.steps[0].retry.jitter: must be at most 1",
    ]);
  });

  test("a step that is not a step, and a condition that is not a condition", () => {
    expect(issuesOf(wf({ build: ok({ steps: ["npm test", { run: "x" }, sh`ok`, null], if: "always" }) }))).toEqual([
      'jobs.build.if: not a condition: expected success(), failure(), always(), cancelled(), sh`...` or a function, got "always"',
      'jobs.build.steps[0]: not a step: expected sh`...`, step(...), uses(...) or a function, got "npm test"',
      "jobs.build.steps[1]: not a step: expected sh`...`, step(...), uses(...) or a function, got an object",
      "jobs.build.steps[3]: not a step: expected sh`...`, step(...), uses(...) or a function, got null",
    ]);
  });

  test("unknown options on the workflow, a job and a step", () => {
    expect(
      issuesOf({
        kind: "workflow",
        name: "ci",
        job: {},
        jobs: { build: { kind: "job", nedds: [], steps: [{ kind: "sh", run: "x", tiemout: "1s" }] } },
      }),
    ).toEqual([
      'unknown option "job" (did you mean "jobs"?)',
      'jobs.build: unknown option "nedds" (did you mean "needs"?)',
      'jobs.build.steps[0]: unknown option "tiemout" (did you mean "timeout"?)',
    ]);
  });

  test("factories that throw, per matrix combination", () => {
    const w = wf({
      test: ok({
        matrix: { node: ["18", "20"] },
        executor: ({ matrix }: { matrix: { node: string } }) => {
          if (matrix.node === "18") throw new Error("node 18 is gone");
          return executors.local();
        },
        steps: () => {
          throw new Error("boom");
        },
      }),
    });
    expect(issuesOf(w)).toEqual([
      "jobs.test.executor: the executor function threw for node=18: node 18 is gone",
      "jobs.test.steps: the steps function threw for node=18: boom",
      "jobs.test.steps: the steps function threw for node=20: boom",
    ]);
  });

  test("a default export that is not a workflow, and a workflow without jobs", () => {
    expect(issuesOf(undefined)).toEqual(["the default export is not a workflow (got undefined); write `export default workflow({ ... })`"]);
    expect(issuesOf({ kind: "job", steps: [] })).toEqual([
      "the default export is not a workflow (got an object); write `export default workflow({ ... })`",
    ]);
    expect(issuesOf({ name: "", jobs: {} })).toEqual(["name: must not be empty", "jobs: a workflow needs at least one job"]);
  });

  test("every issue at once, each with the file", () => {
    const issues = issuesOf(
      wf({ build: ok({ timeout: "1 hour" }), test: ok({ needs: ["biuld"], steps: [] }) }, { on: { cron: "* * *" } }),
      { file: ".gantry/other.ts" },
    );
    expect(issues).toHaveLength(4);
  });

  test("a typed workflow with the same mistakes as values from JSON", () => {
    const typed: Workflow = workflow({ name: "ok", jobs: { build: job({ steps: [sh`true`] }) } });
    expect(issuesOf({ ...typed, defaults: { env: { "1BAD": "x" } } })).toEqual([
      'defaults.env["1BAD"]: invalid environment variable name "1BAD"',
    ]);
  });
});
