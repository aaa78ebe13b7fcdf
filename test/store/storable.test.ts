/**
 * Every text that reaches a store is made storable on both backends (issue
 * 11.12): arbitrary strings, with NULs and lone UTF-16 surrogates (invalid
 * UTF-8), go through every text field of a batch; the batch commits and reads
 * back as `storable(input)` (plain columns) or exactly (JSON columns, log lines).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { samplePlan, samplePlanJob } from "../../src/store/fixtures.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { storable } from "../../src/store/sql-driver.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { requireService } from "../support/services.js";
import { dropCreatedSchemas, freshSchemaName, TEST_DATABASE_URL } from "./pg-harness.js";

const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.constantFrom("\u0000", "a\u0000b", "\uD800", "x\uDC00y", "\uDBFF\uDFFF", "é\u0000\uD83D"),
);
const fields = fc.record({
  workflow: text,
  trigger: text,
  jobId: text,
  jobName: text,
  reason: text,
  stepName: text,
  line: text,
  output: text,
  artifact: text,
  cacheKey: text,
  cachePath: text,
  location: text,
});
type Fields = typeof fields extends fc.Arbitrary<infer T> ? T : never;

let counter = 0;

async function roundTrip(store: Store, f: Fields): Promise<void> {
  const runId = `run-${++counter}`;
  const cacheKey = `${counter}:${f.cacheKey}`;
  const plan = samplePlan(f.workflow, [samplePlanJob(f.jobId, { steps: [f.stepName] })]);
  const hash = "ab".repeat(32);
  await store.write([
    { op: "plan", plan },
    {
      op: "run",
      run: { id: runId, workflow: f.workflow, file: f.workflow, trigger: f.trigger, planHash: plan.hash, startedAt: 1, owner: null },
    },
    {
      op: "job",
      job: {
        runId,
        jobId: f.jobId,
        name: f.jobName,
        key: f.jobName,
        status: "success",
        reason: f.reason,
        outputs: { [f.output]: f.output },
        matrix: { k: f.output },
        location: f.location,
      },
    },
    { op: "step", step: { runId, jobId: f.jobId, stepIndex: 0, name: f.stepName, status: "failure", reason: f.reason } },
    { op: "logs", chunk: { runId, jobId: f.jobId, stepIndex: 0, seq: 1, lines: [{ ts: 5, stream: "stdout", line: f.line }] } },
    { op: "artifact", artifact: { runId, jobId: f.jobId, name: f.artifact, hash, size: 1, createdAt: 1 } },
    { op: "cache", entry: { key: cacheKey, runId, jobId: f.jobId, paths: { [f.cachePath]: { hash, size: 1 } }, createdAt: 1 } },
    { op: "run.finish", runId, status: "success", finishedAt: 2, durationMs: 1 },
  ]);
  const run = await store.runs.get(runId);
  expect(run).toMatchObject({ workflow: storable(f.workflow), trigger: storable(f.trigger), status: "success" });
  const [job] = await store.jobs.list(runId);
  expect(job).toMatchObject({
    jobId: storable(f.jobId),
    name: storable(f.jobName),
    reason: storable(f.reason),
    location: storable(f.location),
    outputs: { [f.output]: f.output },
    matrix: { k: f.output },
  });
  const [step] = await store.jobs.steps(runId, f.jobId);
  expect(step).toMatchObject({ name: storable(f.stepName), reason: storable(f.reason) });
  const [chunk] = await store.logs.read({ runId, jobId: f.jobId });
  expect(chunk?.lines.map((l) => l.line)).toEqual([f.line]);
  expect((await store.artifacts.list(runId)).map((a) => a.name)).toEqual([storable(f.artifact)]);
  const entry = await store.caches.find(cacheKey);
  expect(entry?.key).toBe(storable(cacheKey));
  expect(Object.keys(entry?.paths ?? {})).toEqual([storable(f.cachePath)]);
  expect((await store.plans.get(plan.hash))?.jobs[0]?.steps[0]?.name).toBe(f.stepName);
  await store.plans.putBundle(`bundle-${counter}`, f.line);
  expect(await store.plans.getBundle(`bundle-${counter}`)).toBe(storable(f.line));
}

describe("storable text", () => {
  it("storable: NUL and lone surrogates replaced, everything else kept", () => {
    expect(storable("a\u0000b")).toBe("a\u2400b");
    expect(storable("x\uD800y\uDC00")).toBe("x\uFFFDy\uFFFD");
    expect(storable("ok 😀 é")).toBe("ok 😀 é");
    fc.assert(fc.property(fc.string({ unit: "binary" }), (s) => Buffer.from(storable(s), "utf8").toString("utf8") === storable(s)));
  });

  it("sqlite: arbitrary strings through every field", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gantry-storable-"));
    const store = openSqliteStore({ path: join(dir, "gantry.db") });
    try {
      await store.migrate();
      await fc.assert(
        fc.asyncProperty(fields, (f) => roundTrip(store, f)),
        { numRuns: 60 },
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("postgres: arbitrary strings through every field", async (ctx) => {
    const missing = await requireService("postgres", "storable text on postgres");
    ctx.skip(!!missing, missing);
    const dir = mkdtempSync(join(tmpdir(), "gantry-storable-"));
    const schema = freshSchemaName("gantry_storable");
    const store = openPostgresStore({
      url: `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes("?") ? "&" : "?"}schema=${schema}`,
      blobDir: dir,
    });
    try {
      await store.migrate();
      await fc.assert(
        fc.asyncProperty(fields, (f) => roundTrip(store, f)),
        { numRuns: 60 },
      );
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

afterAll(dropCreatedSchemas);
