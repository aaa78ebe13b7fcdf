import { describe, expect, test } from "vitest";
import { always, defineAction, env, executors, failure, job, sh, step, uses, workflow, type Plan, type StepContext } from "gantry";
import { z } from "zod";
import { hashValue } from "../../src/core/hash.js";
import { compile } from "./helpers.js";

const byId = (plan: Plan, id: string) => plan.jobs.find((j) => j.id === id)!;

describe("resolution", () => {
  test("defaults: timeout, retry, executor and env, overridden by job and step", () => {
    const plan = compile(
      workflow({
        name: "ci",
        defaults: {
          timeout: "15m",
          retry: { attempts: 3, backoff: "linear", delay: "2s", maxDelay: "10s", jitter: true },
          executor: executors.container({ image: "node:20" }),
          env: { A: "defaults", B: "defaults", C: "defaults" },
        },
        jobs: {
          build: job({
            env: { B: "job", C: "job" },
            steps: [sh`make`, sh("make test", { env: { C: "step" }, retry: { attempts: 1 }, timeout: "1m" })],
          }),
          other: job({ timeout: "1h", executor: executors.local({ copyRepo: false }), retry: { attempts: 2 }, steps: [sh`true`] }),
        },
      }),
    );
    const build = byId(plan, "build");
    expect(build.timeoutMs).toBe(15 * 60_000);
    expect(build.retry).toEqual({ attempts: 1, backoff: "constant", delayMs: 0, maxDelayMs: 0, jitter: 0 });
    expect(build.env).toEqual({ A: "defaults", B: "job", C: "job" });
    expect(build.steps[0]!.retry).toEqual({ attempts: 3, backoff: "linear", delayMs: 2000, maxDelayMs: 10_000, jitter: 1 });
    expect(build.steps[0]!.env).toEqual({ A: "defaults", B: "job", C: "job" });
    expect(build.steps[0]!.timeoutMs).toBeUndefined();
    expect(build.steps[1]!.retry).toEqual({ attempts: 1, backoff: "exponential", delayMs: 1000, maxDelayMs: 0, jitter: 0 });
    expect(build.steps[1]!.env).toEqual({ A: "defaults", B: "job", C: "step" });
    expect(build.steps[1]!.timeoutMs).toBe(60_000);
    expect(plan.executors[build.executor]).toMatchObject({ kind: "container", options: { image: "node:20" } });
    const other = byId(plan, "other");
    expect(other.timeoutMs).toBe(3_600_000);
    expect(other.retry).toMatchObject({ attempts: 2, backoff: "exponential", delayMs: 1000 });
    expect(other.executor).toBe("local");
    expect(plan.executors.local).toEqual({
      name: "local",
      kind: "local",
      options: { copyRepo: false },
      hash: hashValue({ kind: "local", options: { copyRepo: false } }),
      copiesRepo: false,
    });
  });

  test("executor names: explicit, local, and kind plus hash prefix; one entry per name", () => {
    const c = executors.container({ image: "alpine" });
    const plan = compile(
      workflow({
        name: "ci",
        jobs: {
          a: job({ executor: c, steps: [sh`true`] }),
          b: job({ executor: executors.container({ image: "alpine" }), steps: [sh`true`] }),
          c: job({ executor: executors.ssh({ host: "ci.example.com" }), steps: [sh`true`] }),
          d: job({ executor: executors.ssh({ host: "ci.example.com", user: "ci" }), steps: [sh`true`] }),
          e: job({ executor: executors.container({ image: "alpine", name: "pods" }), steps: [sh`true`] }),
          f: job({ steps: [sh`true`] }),
        },
      }),
    );
    const h = (v: unknown) => hashValue(v).slice(0, 8);
    expect(Object.keys(plan.executors).sort()).toEqual(
      [
        `container-${h({ kind: "container", options: { image: "alpine" } })}`,
        `ssh-${h({ kind: "ssh", options: { host: "ci.example.com" } })}`,
        `ssh-${h({ kind: "ssh", options: { host: "ci.example.com", user: "ci" } })}`,
        "pods",
        "local",
      ].sort(),
    );
    expect(byId(plan, "a").executor).toBe(byId(plan, "b").executor);
  });

  test("step names, bare functions, uses steps", () => {
    const deploy = defineAction({
      name: "deploy",
      version: "1.2.0",
      inputs: z.object({ target: z.string(), dry: z.boolean().default(false) }),
      run: () => {},
    });
    async function lint(ctx: StepContext) {
      await ctx.sh`eslint .`;
    }
    const plan = compile(
      workflow({
        name: "ci",
        jobs: {
          build: job({
            steps: [
              sh("\n   npm ci --prefer-offline   \n npm run build"),
              sh`${"x".repeat(100)}`,
              lint,
              async () => {},
              step({ name: "named" }, async () => {}),
              uses(deploy, { target: "prod", dry: true }),
              uses(deploy, { target: "prod" } as never, { name: "ship it" }),
            ],
          }),
        },
      }),
    );
    const steps = plan.jobs[0]!.steps;
    expect(steps.map((s) => s.name)).toEqual([
      "npm ci --prefer-offline",
      `${"x".repeat(59)}…`,
      "lint",
      "step 4",
      "named",
      "deploy",
      "ship it",
    ]);
    expect(steps.map((s) => s.kind)).toEqual(["sh", "sh", "fn", "fn", "fn", "uses", "uses"]);
    expect(steps[2]!.source).toContain("eslint .");
    expect(steps[2]!.ref).toBe("jobs.build.steps[2]");
    expect(steps[5]!.action).toEqual({ name: "deploy", version: "1.2.0", inputs: { target: "prod", dry: true } });
    expect(steps[6]!.action!.inputs).toEqual({ target: "prod", dry: false });
    expect(steps.map((s) => s.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test("conditions: default success, status, shell and predicate", () => {
    const plan = compile(
      workflow({
        name: "ci",
        jobs: {
          a: job({ steps: [sh`true`] }),
          b: job({
            needs: ["a"],
            if: always(),
            steps: [sh("x", { if: failure() }), sh("y", { if: sh`test -f x` }), step({ if: (ctx) => ctx.env.CI === "true" }, sh`z`)],
          }),
          c: job({ needs: ["a"], if: (ctx) => ctx.runStatus === "success", steps: [sh`true`] }),
        },
      }),
    );
    expect(byId(plan, "a").if).toEqual({ kind: "status", status: "success" });
    expect(byId(plan, "a").steps[0]!.if).toBeUndefined();
    expect(byId(plan, "b").if).toEqual({ kind: "status", status: "always" });
    const [x, y, z] = byId(plan, "b").steps;
    expect(x!.if).toEqual({ kind: "status", status: "failure" });
    expect(y!.if).toEqual({ kind: "sh", run: "test -f x" });
    expect(z!.if).toMatchObject({ kind: "fn", ref: "jobs.b.steps[2].if" });
    expect((z!.if as { source: string }).source).toContain('ctx.env.CI === "true"');
    expect(byId(plan, "c").if).toMatchObject({ kind: "fn", ref: "jobs.c.if" });
  });

  test("secrets never enter the plan", () => {
    const plan = compile(
      workflow({
        name: "ci",
        env: [
          env.static({ CI: "true" }),
          env.static({ TOKEN: "s3cr3t-value" }, { secret: true }),
          env.file(".env", { optional: true }),
          env.sops("secrets.enc.yaml"),
          env.required("TOKEN"),
        ],
        jobs: { a: job({ steps: [sh`true`] }) },
      }),
      { env: {} },
    );
    expect(JSON.stringify(plan)).not.toContain("s3cr3t-value");
    expect(plan.env).toEqual([
      { kind: "static", keys: ["CI"], values: { CI: "true" }, secret: false },
      { kind: "static", keys: ["TOKEN"], values: {}, secret: true },
      { kind: "file", path: ".env", optional: true, secret: false },
      { kind: "sops", path: "secrets.enc.yaml", optional: false },
      { kind: "required", names: ["TOKEN"] },
    ]);
  });

  test("jobs in a stable topological order, ties by definition order; plan is JSON", () => {
    const plan = compile(
      workflow({
        name: "ci",
        on: { push: { branches: ["main"] }, manual: true },
        jobs: {
          deploy: job({ needs: ["test", "lint"], steps: [sh`true`] }),
          test: job({ needs: ["build"], steps: [sh`true`] }),
          lint: job({ steps: [sh`true`] }),
          build: job({ steps: [sh`true`], labels: ["linux"], cache: true, outputs: { artifacts: { dist: "./dist/" } } }),
          docs: job({ needs: ["build"], steps: [sh`true`], inputs: { artifacts: { dist: "site/dist" } } }),
        },
      }),
    );
    expect(plan.jobs.map((j) => j.id)).toEqual(["lint", "build", "test", "deploy", "docs"]);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
    expect(plan.workflow).toEqual({ name: "ci", file: ".gantry/ci.ts", triggers: { push: { branches: ["main"] }, manual: true } });
    expect(plan.bundle).toBe("bundle-hash");
    expect(plan.version).toBe(1);
    const build = byId(plan, "build");
    expect(build).toMatchObject({ labels: ["linux"], cache: true, outputs: { artifacts: [{ name: "dist", path: "dist" }] } });
    expect(byId(plan, "docs").inputs.artifacts).toEqual([{ name: "dist", path: "site/dist", from: ["build"] }]);
  });

  test("a matrix producer: consumers restore from any of its expansions", () => {
    const plan = compile(
      workflow({
        name: "ci",
        jobs: {
          build: job({ matrix: { os: ["linux", "mac"] }, steps: [sh`true`], outputs: { artifacts: { bin: "out" } } }),
          pack: job({ needs: ["build"], steps: [sh`true`], inputs: { artifacts: { bin: "bin" } } }),
        },
      }),
    );
    expect(byId(plan, "pack").inputs.artifacts).toEqual([{ name: "bin", path: "bin", from: ["build (os=linux)", "build (os=mac)"] }]);
  });
});

describe("hashes", () => {
  const make = (command: string, extra = "lint") =>
    workflow({
      name: "ci",
      jobs: {
        build: job({ steps: [sh`npm ci`, sh`${command}`] }),
        test: job({ needs: ["build"], steps: [sh`npm test`] }),
        lint: job({ steps: [sh`${extra}`] }),
      },
    });

  test("the same workflow gives the same hashes", () => {
    expect(compile(make("npm run build"))).toEqual(compile(make("npm run build")));
  });

  test("changing one step's command changes that step's and its job's hash, and nothing else", () => {
    const a = compile(make("npm run build"));
    const b = compile(make("npm run build:prod"));
    const [ab, bb] = [byId(a, "build"), byId(b, "build")];
    expect(bb.steps[0]!.hash).toBe(ab.steps[0]!.hash);
    expect(bb.steps[1]!.hash).not.toBe(ab.steps[1]!.hash);
    expect(bb.hash).not.toBe(ab.hash);
    expect(byId(b, "test").hash).toBe(byId(a, "test").hash);
    expect(byId(b, "lint").hash).toBe(byId(a, "lint").hash);
    expect(b.hash).not.toBe(a.hash);
  });

  test("a step's hash does not depend on its position", () => {
    const one = compile(workflow({ name: "ci", jobs: { a: job({ steps: [sh`x`] }) } }));
    const two = compile(workflow({ name: "ci", jobs: { a: job({ steps: [sh`y`, sh`x`] }) } }));
    expect(two.jobs[0]!.steps[1]!.hash).toBe(one.jobs[0]!.steps[0]!.hash);
  });

  test("the job hash covers executor, env, timeout, retry, condition, artifacts and cache", () => {
    const base = { steps: [sh`x`] };
    const hashOf = (extra: object) =>
      compile({ kind: "workflow", name: "ci", jobs: { a: { kind: "job", ...base, ...extra } } }).jobs[0]!.hash;
    const h0 = hashOf({});
    for (const extra of [
      { executor: executors.container({ image: "alpine" }) },
      { env: { A: "1" } },
      { timeout: "1m" },
      { retry: { attempts: 2 } },
      { if: always() },
      { continueOnError: true },
      { cache: true },
      { outputs: { artifacts: { x: "x" } } },
    ]) {
      expect(hashOf(extra), JSON.stringify(extra)).not.toBe(h0);
    }
    expect(hashOf({ name: "renamed" })).toBe(h0);
  });
});
