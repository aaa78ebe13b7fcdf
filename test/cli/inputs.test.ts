/**
 * `gantry run --input key=value`: typed inputs validated by the workflow's
 * schema (exit 2 naming the input), read by shell steps as
 * `GANTRY_INPUT_<NAME>` and by TypeScript steps as `ctx.inputs`, recorded
 * with the run (`gantry show`) and kept by `gantry rerun`.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gantry, tempDir } from "./helpers.js";

const WORKFLOW = `import { job, sh, workflow, z, type StepContext } from "gantry";
const inputs = z.object({
  target: z.enum(["staging", "production"]),
  replicas: z.number().int().min(1).default(2),
  dryRun: z.boolean().default(false),
});
type Ctx = StepContext<z.infer<typeof inputs>>;
export default workflow({
  name: "deploy",
  on: { manual: true },
  inputs,
  jobs: {
    deploy: job({
      steps: [
        sh\`echo "shell: $GANTRY_INPUT_TARGET x$GANTRY_INPUT_REPLICAS dry=$GANTRY_INPUT_DRYRUN"\`,
        async (ctx: Ctx) => ctx.log.info(\`ts: \${ctx.inputs.target} x\${ctx.inputs.replicas * 10} \${typeof ctx.inputs.dryRun}\`),
      ],
    }),
  },
});
`;

describe("gantry run --input", () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir("inputs");
    mkdirSync(join(dir, ".gantry"));
    writeFileSync(join(dir, ".gantry", "deploy.ts"), WORKFLOW);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes coerced inputs with defaults to shell and TypeScript steps, records them, and rerun keeps them", async () => {
    const run = await gantry(["run", "--input", "target=staging", "--input", "replicas=3", "--log-format", "plain"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("shell: staging x3 dry=false");
    expect(run.stdout).toContain("ts: staging x30 boolean");
    const show = await gantry(["show", "last"], { cwd: dir });
    expect(show.stdout).toContain('inputs    target="staging", replicas=3, dryRun=false');
    const json = JSON.parse((await gantry(["show", "last", "--json"], { cwd: dir })).stdout) as { inputs: unknown };
    expect(json.inputs).toEqual({ target: "staging", replicas: 3, dryRun: false });
    const rerun = await gantry(["rerun", "last", "--log-format", "plain"], { cwd: dir });
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stdout).toContain("ts: staging x30 boolean");
  });

  it.each([
    [["--input", "target=prod"], 'inputs.target: expected "staging" or "production", got "prod"'],
    [["--input", "target=staging", "--input", "replicas=many"], 'inputs.replicas: expected a number, got "many"'],
    [["--input", "target=staging", "--input", "replica=3"], 'inputs.replica: unknown input "replica" (did you mean "replicas"?)'],
    [[], "inputs.target: required, but missing"],
    [["--input", "target"], "expected KEY=VALUE"],
  ])("exits 2 naming the input: %j", async (args, message) => {
    const run = await gantry(["run", ...args], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });
});
