/**
 * Embedded workers on both stores: runs submitted through the orchestrator are
 * claimed and run by the engine (sh and TypeScript steps from the run's
 * bundle, artifacts between jobs through the blob store, secrets redacted),
 * their events appended with per-run seq and no gap, and the run advanced to
 * its final state from the store.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { builtinExecutorKinds } from "../../src/executors/builtin.js";
import { compileWorkflow } from "../../src/core/plan.js";
import { loadWorkflowFile } from "../../src/loader/load.js";
import { createStoreSource } from "../../src/queue/store-source.js";
import { createOrchestrator } from "../../src/server/orchestrator.js";
import { createRunEvents } from "../../src/server/run-events.js";
import { startWorkers } from "../../src/server/workers.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { dropCreatedSchemas, freshSchemaName, TEST_DATABASE_URL } from "../store/pg-harness.js";
import { requireService } from "../support/services.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const WORKFLOW = `import { job, sh, workflow, env } from "gantry";
export default workflow({
  name: "ci",
  env: [env.static({ TOKEN: "s3cr3t-value" }, { secret: true })],
  jobs: {
    build: job({
      steps: [sh\`mkdir -p out && echo built > out/result.txt && echo "build line 1" && echo "build line 2"\`],
      outputs: { artifacts: { out: "out" } },
    }),
    test: job({
      needs: ["build"],
      inputs: { artifacts: { out: "got" } },
      steps: [
        sh\`cat got/result.txt && echo "token is $TOKEN"\`,
        async (ctx) => {
          ctx.log.info("from typescript " + ctx.job);
        },
      ],
    }),
    broken: job({ steps: [sh\`echo about to fail; exit 3\`] }),
    after: job({ needs: ["broken"], steps: [sh\`echo never\`] }),
  },
});
`;

async function waitForEnd(store: Store, runId: string): Promise<void> {
  const events = createRunEvents(store, { pollMs: 100 });
  await new Promise<void>((resolve) => {
    const check = (): void => {
      void store.runs.get(runId).then((r) => {
        if (r && r.status !== "running") {
          off();
          resolve();
        }
      });
    };
    const off = events.subscribe(runId, check);
    check();
  });
}

function scenario(name: string, open: (dir: string) => Store): void {
  it(`${name}: a run goes through the queue to its final state, with logs, artifacts and events`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "gantry-workers-"));
    dirs.push(dir);
    const repo = join(dir, "repo");
    mkdirSync(join(repo, ".gantry"), { recursive: true });
    writeFileSync(join(repo, ".gantry", "ci.ts"), WORKFLOW);
    const loaded = await loadWorkflowFile(".gantry/ci.ts", { repoDir: repo, stateDir: join(dir, "load-state") });
    const plan = compileWorkflow(loaded.workflow, { file: loaded.file, bundle: loaded.bundleHash, executors: builtinExecutorKinds });
    const store = open(dir);
    await store.migrate();
    try {
      await store.plans.putBundle(loaded.bundleHash, loaded.source);
      const orchestrator = createOrchestrator(store);
      const { runId } = await orchestrator.submit(
        { repo: "default", workflow: "ci", file: loaded.file, plan, bundleHash: loaded.bundleHash, trigger: { kind: "api", by: "test" } },
        { actor: "test", action: "run.trigger", target: "ci" },
      );
      const workers = startWorkers({
        source: createStoreSource(store, { leaseMs: 10_000 }),
        count: 2,
        id: "test",
        dataDir: join(dir, "data"),
      });
      try {
        await waitForEnd(store, runId);
      } finally {
        await workers.stop({ drainMs: 10_000 });
      }
      const jobs = Object.fromEntries((await store.jobs.list(runId)).map((j) => [j.jobId, j.status]));
      expect(jobs).toEqual({ build: "success", test: "success", broken: "failure", after: "skipped" });
      expect((await store.runs.get(runId))?.status).toBe("failure");
      const lines = (await store.logs.read({ runId })).flatMap((c) => c.lines.map((l) => l.line));
      expect(lines).toEqual(
        expect.arrayContaining(["build line 1", "build line 2", "built", "token is ***", "from typescript test", "about to fail"]),
      );
      expect(lines.join("\n")).not.toContain("s3cr3t-value");
      expect((await store.artifacts.list(runId)).map((a) => [a.jobId, a.name])).toEqual([["build", "out"]]);
      const events = await createRunEvents(store).read(runId, 0, 10_000);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      expect(events[0]?.event.type).toBe("run.started");
      expect(events.at(-1)?.event.type).toBe("run.finished");
      expect(JSON.stringify(events)).not.toContain("s3cr3t-value");
      expect((await store.queue.summary()).counts).toMatchObject({ available: 0, claimed: 0, done: 3 });
      expect((await store.audit.list()).entries.map((e) => e.action)).toEqual(["run.trigger"]);
    } finally {
      await store.close();
    }
  }, 60_000);
}

describe("embedded workers", () => {
  scenario("sqlite", (dir) => openSqliteStore({ path: join(dir, "state", "gantry.db") }));
});

const missing = await requireService("postgres", "embedded workers on postgres");
describe.skipIf(missing)("embedded workers (postgres)", () => {
  afterAll(dropCreatedSchemas);
  scenario("postgres", (dir) => {
    const schema = freshSchemaName("gantry_workers");
    return openPostgresStore({
      url: `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes("?") ? "&" : "?"}schema=${schema}`,
      blobDir: join(dir, "blobs"),
    });
  });
});
