import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { always, compileWorkflow, env, executors, PlanError, sh, step } from "gantry";

const jobNames = ["build", "test", "lint", "deploy", "biuld"];

function hostile(kind: number): unknown {
  if (kind === 0) {
    return new Proxy(
      {},
      {
        get() {
          throw new Error("trap");
        },
        ownKeys() {
          throw new Error("trap");
        },
      },
    );
  }
  if (kind === 1) {
    return Object.defineProperty({ kind: "sh" }, "run", {
      enumerable: true,
      get() {
        throw new Error("getter");
      },
    });
  }
  const self: Record<string, unknown> = { kind: "job" };
  self.steps = [self];
  self.needs = self;
  return self;
}

const leaf = fc.oneof(
  fc.anything({
    maxDepth: 3,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withNullPrototype: true,
  }),
  fc.constantFrom<unknown>(
    sh`npm test`,
    always(),
    executors.local(),
    executors.container({ image: "node:20" }),
    env.required("X"),
    { kind: "sh" },
    { kind: "status", status: "sometimes" },
    { kind: "uses", action: { kind: "action", name: "a", inputs: { safeParse: () => null }, run: () => {} }, inputs: 1 },
    "15m",
    "15 mins",
    "* * * * *",
    "../etc",
    -1,
    Number.NaN,
  ),
  fc.func(fc.anything({ maxDepth: 2 })),
  fc.integer({ min: 0, max: 2 }).map(hostile),
);

const stepArb = fc.oneof(
  leaf,
  fc.constant(step({ name: "s" }, sh`x`)),
  fc.constant(async () => {}),
);

const jobArb = fc.record(
  {
    kind: fc.constantFrom("job", "jobb"),
    name: fc.oneof(fc.constantFrom(...jobNames), leaf),
    needs: fc.oneof(fc.array(fc.constantFrom(...jobNames), { maxLength: 4 }), leaf),
    if: leaf,
    matrix: fc.oneof(
      fc.dictionary(
        fc.constantFrom("node", "os", "include", "exclude"),
        fc.oneof(fc.array(fc.oneof(fc.string(), fc.integer(), leaf), { maxLength: 20 }), leaf),
      ),
      leaf,
    ),
    executor: fc.oneof(
      leaf,
      fc.constant(() => executors.local()),
      fc.record({ kind: fc.constantFrom("local", "ssh", "container"), options: leaf }),
    ),
    steps: fc.oneof(fc.array(stepArb, { maxLength: 5 }), leaf, fc.func(fc.array(stepArb, { maxLength: 3 }))),
    env: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), leaf)), leaf),
    timeout: leaf,
    retry: fc.oneof(
      fc.record({ attempts: fc.oneof(fc.integer(), leaf), backoff: leaf, delay: leaf, jitter: leaf }, { requiredKeys: [] }),
      leaf,
    ),
    inputs: fc.oneof(fc.record({ artifacts: fc.dictionary(fc.string(), fc.oneof(fc.string(), leaf)) }), leaf),
    outputs: fc.oneof(fc.record({ artifacts: fc.dictionary(fc.constantFrom("dist", "x"), fc.oneof(fc.string(), leaf)) }), leaf),
    cache: leaf,
  },
  { requiredKeys: ["kind"] },
);

const workflowArb = fc
  .record(
    {
      kind: fc.constantFrom("workflow", "workflow", "wf"),
      name: fc.oneof(fc.string(), leaf),
      on: fc.oneof(fc.record({ cron: fc.oneof(fc.string(), leaf), push: leaf, manual: leaf }, { requiredKeys: [] }), leaf),
      env: fc.oneof(fc.array(leaf, { maxLength: 4 }), leaf),
      defaults: fc.oneof(fc.record({ timeout: leaf, retry: leaf, executor: leaf, env: leaf }, { requiredKeys: [] }), leaf),
      matrixLimit: leaf,
      jobs: fc.oneof(
        fc.dictionary(fc.constantFrom(...jobNames, "weird key", "__proto__", "constructor"), fc.oneof(jobArb, leaf), { maxKeys: 5 }),
        leaf,
      ),
    },
    { requiredKeys: ["jobs"] },
  )
  .chain((wf) =>
    fc.boolean().map((cyclic) => {
      if (cyclic && typeof wf.jobs === "object" && wf.jobs !== null && Object.isExtensible(wf.jobs) && !Array.isArray(wf.jobs)) {
        (wf as Record<string, unknown>).defaults = wf;
        (wf.jobs as Record<string, unknown>).loop = { kind: "job", needs: ["loop"], steps: [wf], matrix: wf };
      }
      return wf;
    }),
  );

describe("compileWorkflow on malformed input", () => {
  test("throws only PlanError, with issues, and finishes", () => {
    fc.assert(
      fc.property(fc.oneof(workflowArb, leaf), (value) => {
        let plan: unknown;
        try {
          plan = compileWorkflow(value, { file: "f.ts", bundle: "b" });
        } catch (error) {
          expect(error).toBeInstanceOf(PlanError);
          expect((error as PlanError).issues.length).toBeGreaterThan(0);
          for (const issue of (error as PlanError).issues) {
            expect(issue.file).toBe("f.ts");
            expect(typeof issue.path).toBe("string");
            expect(issue.message.length).toBeGreaterThan(0);
          }
          return;
        }
        // When it compiles, the plan is plain JSON.
        expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
      }),
      { numRuns: 600 },
    );
  });

  test("a valid workflow with random extra keys names each unknown key", () => {
    fc.assert(
      fc.property(
        fc
          .string({ minLength: 1 })
          .filter(
            (k) =>
              ![
                "kind",
                "name",
                "needs",
                "if",
                "matrix",
                "executor",
                "steps",
                "env",
                "timeout",
                "retry",
                "continueOnError",
                "inputs",
                "outputs",
                "cache",
                "labels",
              ].includes(k),
          ),
        (key) => {
          try {
            compileWorkflow({ name: "ci", jobs: { a: { steps: [sh`true`], [key]: 1 } } }, { file: "f.ts", bundle: "b" });
          } catch (error) {
            expect(error).toBeInstanceOf(PlanError);
            expect((error as PlanError).issues.some((i) => i.message.includes(`unknown option ${JSON.stringify(key)}`))).toBe(true);
            return;
          }
          throw new Error("compiled");
        },
      ),
    );
  });
});
