import { describe, expect, it } from "vitest";
import { job, sh, workflow, z } from "gantry";
import { coerceInput, inputEnvName } from "../../src/core/inputs.js";
import { compile, issuesOf } from "./helpers.js";

const inputs = z.object({
  target: z.enum(["staging", "production"]).describe("where to deploy"),
  replicas: z.number().int().min(1).default(2),
  dryRun: z.boolean().default(false),
  tags: z.array(z.string()).optional(),
  note: z.string().optional(),
});

const deploy = workflow({ name: "deploy", inputs, jobs: { go: job({ steps: [sh`echo $GANTRY_INPUT_TARGET`] }) } });

describe("typed inputs", () => {
  it("puts the JSON schema in the plan, and no values when the plan is not for a run", () => {
    const plan = compile(deploy);
    expect(plan.inputs).toBeUndefined();
    expect(plan.workflow.inputs).toMatchObject({
      type: "object",
      properties: {
        target: { type: "string", enum: ["staging", "production"], description: "where to deploy" },
        replicas: { type: "integer", default: 2 },
        dryRun: { type: "boolean", default: false },
      },
      required: ["target"],
    });
    expect(plan.jobs[0]?.env).toEqual({});
  });

  it("parses the values of a run: strings coerced by the schema's types, defaults applied", () => {
    const plan = compile(deploy, { inputs: { target: "staging", replicas: "3", tags: '["a","b"]', note: "42" } });
    expect(plan.inputs).toEqual({ target: "staging", replicas: 3, dryRun: false, tags: ["a", "b"], note: "42" });
    expect(plan.jobs[0]?.env).toEqual({
      GANTRY_INPUT_TARGET: "staging",
      GANTRY_INPUT_REPLICAS: "3",
      GANTRY_INPUT_DRYRUN: "false",
      GANTRY_INPUT_TAGS: '["a","b"]',
      GANTRY_INPUT_NOTE: "42",
    });
    // Typed JSON values (the API) are taken as they are.
    expect(compile(deploy, { inputs: { target: "production", replicas: 5, dryRun: true } }).inputs).toMatchObject({
      replicas: 5,
      dryRun: true,
    });
  });

  it("inputs are part of the plan hash and of every job hash", () => {
    const a = compile(deploy, { inputs: { target: "staging" } });
    const b = compile(deploy, { inputs: { target: "production" } });
    const again = compile(deploy, { inputs: { target: "staging", replicas: "2" } });
    expect(a.hash).not.toBe(b.hash);
    expect(a.jobs[0]?.hash).not.toBe(b.jobs[0]?.hash);
    expect(again.hash).toBe(a.hash);
  });

  it("a workflow without inputs keeps its plan (no inputs keys) and refuses given inputs", () => {
    const plain = workflow({ name: "ci", jobs: { a: job({ steps: [sh`true`] }) } });
    const plan = compile(plain, { inputs: {} });
    expect("inputs" in plan).toBe(false);
    expect("inputs" in plan.workflow).toBe(false);
    expect(plan.hash).toBe(compile(plain).hash);
    expect(issuesOf(plain, { inputs: { target: "x" } })).toEqual([
      'inputs.target: unknown input "target": the workflow declares no inputs',
    ]);
  });

  it("names the input in every issue", () => {
    expect(issuesOf(deploy, { inputs: {} })).toEqual(["inputs.target: required, but missing"]);
    expect(issuesOf(deploy, { inputs: { target: "prod" } })).toEqual(['inputs.target: expected "staging" or "production", got "prod"']);
    expect(issuesOf(deploy, { inputs: { target: "staging", replicas: "many" } })).toEqual([
      'inputs.replicas: expected a number, got "many"',
    ]);
    expect(issuesOf(deploy, { inputs: { target: "staging", replicas: "0" } })).toEqual(["inputs.replicas: must be at least 1"]);
    expect(issuesOf(deploy, { inputs: { target: "staging", dryRun: "yes" } })).toEqual([
      'inputs.dryRun: expected true or false, got "yes"',
    ]);
    expect(issuesOf(deploy, { inputs: { target: "staging", replica: "3" } })).toEqual([
      'inputs.replica: unknown input "replica" (did you mean "replicas"?) (inputs: target, replicas, dryRun, tags, note)',
    ]);
  });

  it("refuses an inputs value that is not a zod object schema, and names that collide as env", () => {
    expect(issuesOf({ ...deploy, inputs: { target: "x" } })).toEqual([
      "inputs: expected a zod object schema (z.object({ ... })), got an object",
    ]);
    expect(issuesOf({ ...deploy, inputs: z.string() })).toEqual([
      "inputs: expected a zod object schema (z.object({ ... })) whose keys are the inputs",
    ]);
    expect(issuesOf({ ...deploy, inputs: z.object({ "dry-run": z.boolean(), dry_run: z.boolean() }) })).toEqual([
      'inputs.dry_run: inputs "dry-run" and "dry_run" both give GANTRY_INPUT_DRY_RUN; rename one',
    ]);
  });

  it("z.coerce schemas get the string and coerce it themselves", () => {
    const coerced = workflow({ name: "c", inputs: z.object({ n: z.coerce.number() }), jobs: { a: job({ steps: [sh`true`] }) } });
    expect(compile(coerced, { inputs: { n: "7" } }).inputs).toEqual({ n: 7 });
  });
});

describe("coerceInput (the rule for string values)", () => {
  it.each([
    [{ type: "integer" }, "3", 3],
    [{ type: "number" }, "-1.5", -1.5],
    [{ type: "number" }, "1e3", 1000],
    [{ type: "number" }, "x", "x"],
    [{ type: "boolean" }, "true", true],
    [{ type: "boolean" }, "false", false],
    [{ type: "boolean" }, "1", "1"],
    [{ type: "string" }, "3", "3"],
    [{ anyOf: [{ type: "string" }, { type: "number" }] }, "3", "3"],
    [{ anyOf: [{ type: "number" }, { type: "null" }] }, "null", null],
    [{ type: "array" }, "[1,2]", [1, 2]],
    [{ type: "object" }, '{"a":1}', { a: 1 }],
    [{ type: "object" }, "{oops", "{oops"],
    [{ enum: [1, 2] }, "2", 2],
    [{}, "3", "3"],
  ])("%j %j -> %j", (schema, value, expected) => {
    expect(coerceInput(schema, value)).toEqual(expected);
  });

  it("names the env variables like GitHub: upper case, other characters _", () => {
    expect(inputEnvName("target")).toBe("GANTRY_INPUT_TARGET");
    expect(inputEnvName("dry-run")).toBe("GANTRY_INPUT_DRY_RUN");
    expect(inputEnvName("dryRun")).toBe("GANTRY_INPUT_DRYRUN");
  });
});
