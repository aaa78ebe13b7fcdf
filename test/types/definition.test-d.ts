import { describe, expectTypeOf, test } from "vitest";
import { defineAction, executors, job, sh, uses, workflow, type Duration, type ExecutorDef, type Plan, type Workflow } from "gantry";
import type { AnyInputs, StepContext } from "gantry";
import { compileWorkflow, nextDelay, type CompileOptions, type PlanRetry } from "gantry";
import type { ExecutorKinds, LocalExecutorOptions, TypedExecutorDef } from "gantry";
import { z } from "zod";

describe("needs", () => {
  test("accepts job names of the same workflow", () => {
    const w = workflow({
      name: "ci",
      jobs: {
        build: job({ steps: [sh`make`] }),
        test: job({ needs: ["build"], steps: [sh`make test`] }),
      },
    });
    expectTypeOf(w).toExtend<Workflow>();
  });

  test("rejects a misspelled need", () => {
    workflow({
      name: "ci",
      jobs: {
        build: job({ steps: [sh`make`] }),
        // @ts-expect-error "biuld" is not a job of this workflow
        test: job({ needs: ["biuld"], steps: [sh`make test`] }),
      },
    });
  });

  test("rejects a job that needs itself", () => {
    workflow({
      name: "ci",
      jobs: {
        build: job({ steps: [sh`make`] }),
        // @ts-expect-error a job cannot need itself
        test: job({ needs: ["test"], steps: [sh`make test`] }),
      },
    });
  });
});

describe("matrix", () => {
  test("values are typed inside the executor and steps factories", () => {
    job({
      matrix: { node: ["18", "20", "22"], os: ["bookworm"], exclude: [{ node: "18" }] },
      executor: ({ matrix }) => {
        expectTypeOf(matrix.node).toEqualTypeOf<"18" | "20" | "22">();
        expectTypeOf(matrix.os).toEqualTypeOf<"bookworm">();
        return executors.container({ image: `node:${matrix.node}-${matrix.os}` });
      },
      steps: ({ matrix }) => {
        expectTypeOf(matrix.node).toEqualTypeOf<"18" | "20" | "22">();
        // @ts-expect-error no such axis
        void matrix.python;
        return [sh`node --version`];
      },
    });
  });

  test("the executor factory must return an executor", () => {
    job({
      matrix: { node: ["20"] },
      // @ts-expect-error a string is not an executor
      executor: ({ matrix }) => `node:${matrix.node}`,
      steps: [sh`true`],
    });
    expectTypeOf(executors.local()).toEqualTypeOf<TypedExecutorDef<"local", LocalExecutorOptions>>();
    expectTypeOf(executors.local()).toExtend<ExecutorDef>();
  });
});

describe("durations", () => {
  test('"15m" and "1h30m" type-check, "15 mins" does not', () => {
    expectTypeOf<"15m">().toExtend<Duration>();
    expectTypeOf<"1h30m">().toExtend<Duration>();
    expectTypeOf<"250ms">().toExtend<Duration>();
    expectTypeOf<"15 mins">().not.toExtend<Duration>();
    // @ts-expect-error not a duration
    const bad: Duration = "15 mins";
    void bad;
    // @ts-expect-error not a duration
    job({ timeout: "15 mins", steps: [sh`true`] });
    job({ timeout: "15m", steps: [sh`true`] });
  });
});

describe("actions", () => {
  test("uses() checks inputs against the action's schema", () => {
    const deploy = defineAction({ name: "deploy", inputs: z.object({ target: z.enum(["staging", "prod"]) }), run: () => {} });
    uses(deploy, { target: "prod" });
    // @ts-expect-error "qa" is not a target
    uses(deploy, { target: "qa" });
  });
});

describe("compiler API", () => {
  test("signatures", () => {
    expectTypeOf(compileWorkflow).parameters.toEqualTypeOf<[unknown, CompileOptions]>();
    expectTypeOf<CompileOptions>().toEqualTypeOf<{
      readonly file: string;
      readonly bundle: string;
      readonly env?: Readonly<Record<string, string | undefined>>;
      readonly executors?: ExecutorKinds;
      readonly matrixLimit?: number;
      readonly inputs?: Readonly<Record<string, unknown>>;
    }>();
    expectTypeOf(compileWorkflow).returns.toEqualTypeOf<Plan>();
    expectTypeOf(nextDelay).toEqualTypeOf<(policy: PlanRetry, attempt: number, random: () => number) => number>();
  });
});

describe("ephemeral containers", () => {
  test("ctx.container returns the callback's value; container: takes an image name", () => {
    job({
      steps: [
        async (ctx) => {
          const n = await ctx.container("alpine", async (c) => {
            expectTypeOf((await c.sh`true`).exitCode).toEqualTypeOf<number>();
            expectTypeOf(await c.exec(["true"], { nothrow: true })).toEqualTypeOf<Awaited<ReturnType<typeof ctx.sh>>>();
            return 42;
          });
          expectTypeOf(n).toEqualTypeOf<number>();
          // @ts-expect-error the callback gets a handle, not a string
          await ctx.container("alpine", async (c: string) => c);
        },
        sh.with({ container: "node:22" })`npm test`,
        sh("npm test", { container: "node:22" }),
        // @ts-expect-error container is an image name
        sh("npm test", { container: 22 }),
      ],
    });
  });
});

describe("typed inputs", () => {
  const inputs = z.object({ target: z.enum(["staging", "production"]), replicas: z.number().default(2) });
  type Ctx = StepContext<z.infer<typeof inputs>>;

  test("ctx.inputs is typed from the schema in an annotated step", () => {
    workflow({
      name: "deploy",
      inputs,
      jobs: {
        go: job({
          steps: [
            async (ctx: Ctx) => {
              expectTypeOf(ctx.inputs.target).toEqualTypeOf<"staging" | "production">();
              expectTypeOf(ctx.inputs.replicas).toEqualTypeOf<number>();
            },
          ],
        }),
        // An unannotated step still reads them, as unknown values.
        log: job({
          steps: [
            (ctx) => {
              expectTypeOf(ctx.inputs).toEqualTypeOf<AnyInputs>();
            },
          ],
        }),
      },
    });
  });

  test("a step that asks for an input the schema does not give is refused", () => {
    workflow({
      name: "deploy",
      inputs,
      jobs: {
        // @ts-expect-error the schema has no "region"
        go: job({ steps: [(ctx: StepContext<{ region: string }>) => void ctx.inputs.region] }),
      },
    });
    workflow({
      name: "plain",
      jobs: {
        // @ts-expect-error a workflow without inputs gives none
        go: job({ steps: [(ctx: StepContext<{ region: string }>) => void ctx.inputs.region] }),
      },
    });
  });
});
