import { describe, expect, test } from "vitest";
import { defineAction, GantryError, job, sh, step, uses, workflow, type StepContext } from "gantry";
import { z } from "zod";
import { findPredicate, findStepFunction } from "../../src/core/resolve.js";
import { compile } from "./helpers.js";

const echo = defineAction({ name: "echo", inputs: z.object({ text: z.string(), times: z.number().default(1) }), run: () => {} });
const calls: string[] = [];
const fnFor = (node: string) => async (_ctx: StepContext) => void calls.push(node);
const isFast = () => true;

const w = workflow({
  name: "ci",
  jobs: {
    build: job({
      if: (ctx) => ctx.runStatus === "success",
      steps: [sh`make`, async function compileIt() {}, step({ if: isFast }, async () => {}), uses(echo, { text: "hi" } as never)],
    }),
    test: job({ matrix: { node: ["20", "22"] }, steps: ({ matrix }) => [fnFor(matrix.node)] }),
  },
});

describe("finding functions again", () => {
  const plan = compile(w);
  const build = plan.jobs.find((j) => j.id === "build")!;

  test("fn steps and uses steps", () => {
    const fn = findStepFunction(w, build, build.steps[1]!);
    expect(typeof fn === "function" && fn.name).toBe("compileIt");
    expect(findStepFunction(w, build, build.steps[3]!)).toEqual({ action: echo, inputs: { text: "hi", times: 1 } });
  });

  test("steps of a matrix job, by re-evaluating the steps function", async () => {
    const t22 = plan.jobs.find((j) => j.id === "test (node=22)")!;
    const fn = findStepFunction(w, t22, t22.steps[0]!);
    expect(typeof fn).toBe("function");
    await (fn as (ctx: StepContext) => Promise<void>)({} as StepContext);
    expect(calls).toEqual(["22"]);
  });

  test("predicates of jobs and steps", () => {
    const jobIf = build.if;
    expect(jobIf.kind).toBe("fn");
    expect(findPredicate(w, build, (jobIf as { ref: string }).ref)).toBe(w.jobs.build.if);
    expect(findPredicate(w, build, (build.steps[2]!.if as { ref: string }).ref)).toBe(isFast);
  });

  test("INTERNAL errors when the plan does not match the workflow", () => {
    const expectInternal = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(error).toBeInstanceOf(GantryError);
        expect((error as GantryError).code).toBe("INTERNAL");
        return;
      }
      throw new Error("did not throw");
    };
    expectInternal(() => findStepFunction(w, build, build.steps[0]!));
    expectInternal(() => findStepFunction(w, { ...build, key: "nope" }, build.steps[1]!));
    expectInternal(() => findStepFunction(w, build, { ...build.steps[1]!, index: 9 }));
    expectInternal(() => findPredicate(w, build, "jobs.build.steps[0].if"));
    expectInternal(() => findPredicate(w, build, "jobs.other.if"));
  });
});
