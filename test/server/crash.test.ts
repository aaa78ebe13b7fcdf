/**
 * Crash safety of the queue with real processes (dist/server/queue-node.js):
 * SIGKILL a process running jobs on its embedded workers, start another one:
 * every run reaches a final state, nothing stays queued or running, no two
 * attempts of one job held a lease at once (from `queue_attempts`), every log
 * line committed before the kill is still there. A job that SIGKILLs its worker
 * process 3 times is quarantined while the rest drains. On PostgreSQL, three
 * processes run 300 jobs and one is killed midway: every job ends success.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { compileWorkflow } from "../../src/core/plan.js";
import { builtinExecutorKinds } from "../../src/executors/builtin.js";
import { loadWorkflowFile } from "../../src/loader/load.js";
import { createOrchestrator } from "../../src/server/orchestrator.js";
import { createRunEvents } from "../../src/server/run-events.js";
import { openPostgresStore } from "../../src/store/postgres-store.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { dropCreatedSchemas, freshSchemaName, TEST_DATABASE_URL } from "../store/pg-harness.js";
import { requireService } from "../support/services.js";

const NODE = resolve(import.meta.dirname, "../../dist/server/queue-node.js");
const children = new Set<ChildProcess>();
const dirs: string[] = [];
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Backend {
  readonly name: string;
  open(dir: string): Store;
  env(dir: string): Record<string, string>;
}

function startNode(env: Record<string, string>, workers: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [NODE], {
    env: { ...process.env, GANTRY_WORKERS: String(workers), GANTRY_LEASE_MS: "1500", GANTRY_REAPER_MS: "200", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  return new Promise((resolveReady, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) resolveReady(child);
    });
    child.stderr?.on("data", () => undefined);
    child.once("exit", (code) => reject(new Error(`queue node exited with ${code} before it was ready`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    child.once("exit", () => r());
    child.kill("SIGKILL");
  });
}

async function submit(store: Store, dir: string, jobs: Record<string, string>, name = "ci"): Promise<string> {
  const repo = join(dir, `repo-${name}`);
  mkdirSync(join(repo, ".gantry"), { recursive: true });
  const body = Object.entries(jobs)
    .map(([id, script]) => `${JSON.stringify(id)}: job({ steps: [sh\`${script}\`] })`)
    .join(",\n");
  writeFileSync(
    join(repo, ".gantry", "ci.ts"),
    `import { job, sh, workflow } from "gantry";\nexport default workflow({ name: "${name}", jobs: {\n${body}\n} });\n`,
  );
  const loaded = await loadWorkflowFile(".gantry/ci.ts", { repoDir: repo, stateDir: join(dir, "load") });
  const plan = compileWorkflow(loaded.workflow, { file: loaded.file, bundle: loaded.bundleHash, executors: builtinExecutorKinds });
  await store.plans.putBundle(loaded.bundleHash, loaded.source);
  const { runId } = await createOrchestrator(store).submit({
    repo: "default",
    workflow: name,
    file: loaded.file,
    plan,
    bundleHash: loaded.bundleHash,
    trigger: { kind: "api" },
  });
  return runId;
}

/** Resolves when `check` holds, re-checked whenever the run's events change (and by the events' polling). */
function until(store: Store, runId: string, check: () => Promise<boolean>): Promise<void> {
  const events = createRunEvents(store, { pollMs: 100 });
  return new Promise((done, fail) => {
    let busy = false;
    const test = (): void => {
      if (busy) return;
      busy = true;
      check().then(
        (ok) => {
          busy = false;
          if (ok) {
            off();
            done();
          }
        },
        (error: unknown) => {
          off();
          fail(error instanceof Error ? error : new Error(String(error)));
        },
      );
    };
    // Events wake it at once; the interval covers changes without events (the reaper's requeues and quarantines).
    const unsubscribe = events.subscribe(runId, test);
    const timer = setInterval(test, 200);
    const off = (): void => {
      unsubscribe();
      clearInterval(timer);
    };
    test();
  });
}

async function expectSafe(store: Store, runIds: string[]): Promise<void> {
  for (const runId of runIds) {
    expect((await store.runs.get(runId))?.status).not.toBe("running");
    for (const job of await store.jobs.list(runId)) expect(["queued", "running"]).not.toContain(job.status);
  }
  const counts = (await store.queue.summary()).counts;
  expect(counts.available).toBe(0);
  expect(counts.claimed).toBe(0);
  // No two attempts of one entry held a lease at once: each ended before the next was claimed.
  const attempts = await store.queue.attempts();
  const byEntry = new Map<string, typeof attempts>();
  for (const a of attempts) byEntry.set(a.entry, [...(byEntry.get(a.entry) ?? []), a]);
  for (const list of byEntry.values()) {
    list.sort((a, b) => a.attempt - b.attempt);
    for (let i = 1; i < list.length; i++) {
      expect(list[i - 1]!.endedAt).not.toBeNull();
      expect(list[i]!.claimedAt).toBeGreaterThanOrEqual(list[i - 1]!.endedAt!);
    }
  }
}

async function logLines(store: Store, runId: string): Promise<string[]> {
  return (await store.logs.read({ runId, limit: 100_000 })).flatMap((c) => c.lines.map((l) => `${c.jobId}:${l.line}`));
}

function crashCases(backend: Backend): void {
  it(`${backend.name}: SIGKILL a process running 20 jobs, restart: nothing lost, nothing stuck`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "gantry-crash-"));
    dirs.push(dir);
    const store = backend.open(dir);
    await store.migrate();
    try {
      const jobs: Record<string, string> = {};
      for (let i = 0; i < 20; i++) jobs[`j${i}`] = `for n in 1 2 3 4 5 6; do echo "line $n"; sleep 0.1; done`;
      const runId = await submit(store, dir, jobs);
      const first = await startNode(backend.env(dir), 4);
      // Kill it once some jobs finished and others are running.
      await until(store, runId, async () => (await store.jobs.list(runId)).filter((j) => j.status === "success").length >= 4);
      await kill(first);
      const acknowledged = await logLines(store, runId);
      expect(acknowledged.length).toBeGreaterThan(0);
      await startNode(backend.env(dir), 4);
      await until(store, runId, async () => (await store.runs.get(runId))?.status !== "running");
      await expectSafe(store, [runId]);
      expect((await store.runs.get(runId))?.status).toBe("success");
      const after = new Set(await logLines(store, runId));
      for (const line of acknowledged) expect(after.has(line)).toBe(true);
      // Every job printed its six lines in a finished attempt.
      for (let i = 0; i < 20; i++) expect(after.has(`j${i}:line 6`)).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);

  it(`${backend.name}: a job that SIGKILLs its worker process 3 times is quarantined while the rest drains; requeue`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "gantry-crash-"));
    dirs.push(dir);
    const store = backend.open(dir);
    await store.migrate();
    try {
      const runId = await submit(store, dir, {
        killer: `kill -9 $GANTRY_WORKER_PID; sleep 5`,
        ...Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`ok${i}`, "echo fine"])),
      });
      // A supervisor: the node is started again each time the job kills it.
      let node: ChildProcess | undefined;
      let supervising = true;
      const supervise = async (): Promise<void> => {
        // One worker: a job running beside the killer in the same process is lost with it, and would be counted too.
        node = await startNode(backend.env(dir), 1);
        node.once("exit", () => void (supervising && supervise()));
      };
      await supervise();
      await until(store, runId, async () => (await store.queue.entries(runId)).find((e) => e.jobId === "killer")?.state === "quarantined");
      const summary = await store.queue.summary();
      expect(summary.quarantined.map((e) => [e.jobId, e.reason])).toEqual([
        ["killer", "its worker was lost 3 times while running it (quarantined after 3)"],
      ]);
      await until(store, runId, async () => (await store.jobs.list(runId)).filter((j) => j.status === "success").length === 6);
      expect((await store.runs.get(runId))?.status).toBe("running"); // the quarantined job holds its run, not the queue
      supervising = false;
      if (node) await kill(node);
      const entry = summary.quarantined[0]!.entry;
      await createOrchestrator(store).requeue(entry, { actor: "test", action: "queue.requeue", target: entry });
      expect((await store.queue.entries(runId)).find((e) => e.jobId === "killer")).toMatchObject({
        state: "available",
        lost: 0,
        attempt: 3,
      });
      expect((await store.queue.summary()).counts.quarantined).toBe(0);
      expect((await store.audit.list()).entries.map((e) => e.action)).toEqual(["queue.requeue"]);
    } finally {
      await store.close();
    }
  }, 120_000);
}

describe("queue crash safety (sqlite)", () => {
  crashCases({
    name: "sqlite",
    open: (dir) => openSqliteStore({ path: join(dir, "state", "gantry.db") }),
    env: (dir) => ({ GANTRY_STATE_DIR: join(dir, "state"), GANTRY_DATABASE_URL: "" }),
  });
});

const missing = await requireService("postgres", "queue crash safety on postgres");
describe.skipIf(missing)("queue crash safety (postgres)", () => {
  afterAll(dropCreatedSchemas);
  const urls = new Map<string, string>();
  const urlOf = (dir: string): string => {
    let url = urls.get(dir);
    if (!url)
      urls.set(dir, (url = `${TEST_DATABASE_URL}${TEST_DATABASE_URL.includes("?") ? "&" : "?"}schema=${freshSchemaName("gantry_crash")}`));
    return url;
  };
  const backend: Backend = {
    name: "postgres",
    open: (dir) => openPostgresStore({ url: urlOf(dir), blobDir: join(dir, "state", "blobs") }),
    env: (dir) => ({ GANTRY_STATE_DIR: join(dir, "state"), GANTRY_DATABASE_URL: urlOf(dir) }),
  };
  crashCases(backend);

  it("three processes on one PostgreSQL run 300 jobs; one SIGKILLed midway: every job ends success", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gantry-crash-"));
    dirs.push(dir);
    const store = backend.open(dir);
    await store.migrate();
    try {
      const jobs: Record<string, string> = {};
      for (let i = 0; i < 300; i++) jobs[`j${i}`] = "echo done";
      const runId = await submit(store, dir, jobs);
      const nodes = await Promise.all([1, 2, 3].map(() => startNode(backend.env(dir), 3)));
      await until(store, runId, async () => (await store.jobs.list(runId)).filter((j) => j.status === "success").length >= 100);
      await kill(nodes[0]!);
      await until(store, runId, async () => (await store.runs.get(runId))?.status !== "running");
      await expectSafe(store, [runId]);
      const list = await store.jobs.list(runId);
      expect(list.filter((j) => j.status === "success")).toHaveLength(300);
      expect((await store.runs.get(runId))?.status).toBe("success");
      // Repeats are separate recorded attempts: entries claimed more than once show every attempt.
      for (const entry of await store.queue.entries(runId)) {
        const attempts = (await store.queue.attempts(runId)).filter((a) => a.entry === entry.entry);
        expect(attempts.map((a) => a.attempt)).toEqual(Array.from({ length: entry.attempt }, (_, i) => i + 1));
      }
    } finally {
      await store.close();
    }
  }, 180_000);
});
