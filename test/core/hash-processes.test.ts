import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, expect, test } from "vitest";
import { compileWorkflow, type Plan } from "gantry";
import fixture from "./fixtures/hash-workflow.js";

const OPTIONS = { file: ".gantry/hash.ts", bundle: "fixture" };
const summary = (plan: Plan) => ({
  plan: plan.hash,
  jobs: plan.jobs.map((j) => [j.id, j.hash, j.steps.map((s) => s.hash)]),
  executors: Object.keys(plan.executors),
});

let dir: string;
let script: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "gantry-hash-"));
  const entry = join(dir, "entry.ts");
  const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
  writeFileSync(
    entry,
    [
      `import { compileWorkflow } from ${JSON.stringify(here("../../src/compile.ts"))};`,
      `import fixture from ${JSON.stringify(here("./fixtures/hash-workflow.ts"))};`,
      `const plan = compileWorkflow(fixture, ${JSON.stringify(OPTIONS)});`,
      `const summary = { plan: plan.hash, jobs: plan.jobs.map((j) => [j.id, j.hash, j.steps.map((s) => s.hash)]), executors: Object.keys(plan.executors) };`,
      `process.stdout.write(JSON.stringify(summary));`,
    ].join("\n"),
  );
  script = join(dir, "compile.mjs");
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: script,
    logLevel: "silent",
    absWorkingDir: process.cwd(),
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the same workflow gives the same hashes in two separate node processes and in this one", () => {
  const run = () => JSON.parse(execFileSync(process.execPath, [script], { encoding: "utf8" })) as ReturnType<typeof summary>;
  const first = run();
  const second = run();
  expect(second).toEqual(first);
  expect(summary(compileWorkflow(fixture, OPTIONS))).toEqual(first);
  expect(first.jobs.map((j) => j[0])).toEqual(["build", "test (node=20, os=bookworm)", "test (node=22, os=bookworm)", "report"]);
  expect(first.plan).toMatch(/^[0-9a-f]{64}$/);
});
