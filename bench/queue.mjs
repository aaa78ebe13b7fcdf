// Queue throughput on one PostgreSQL (issue 12): enqueue and claim+complete of
// no-op jobs with 10 concurrent workers, for Gantry's queue (store.queue: a
// one-job run per entry, so claim+complete includes the run's transitions),
// graphile-worker 0.17, pg-boss 10 and a raw `FOR UPDATE SKIP LOCKED` floor;
// plus Gantry's SQLite queue. Targets: Gantry >= 2x graphile-worker and
// >= 0.5x the floor (claim+complete).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openPostgresStore } from "../dist/store/postgres-store.js";
import { openSqliteStore } from "../dist/store/sqlite-store.js";
import { samplePlan, samplePlanJob } from "../dist/store/fixtures.js";

const URL_ = process.env.GANTRY_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const N = Number(process.env.GANTRY_BENCH_QUEUE_JOBS ?? 2000);
const WORKERS = 10;
const withSchema = (schema) => `${URL_}${URL_.includes("?") ? "&" : "?"}schema=${schema}`;

async function sql(text) {
  const c = new pg.Client({ connectionString: URL_ });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function gantry(store) {
  await store.migrate();
  const plan = samplePlan("bench", [samplePlanJob("noop")]);
  const enqueueMs = await timed(async () => {
    const spec = { repo: "bench", bundleHash: plan.bundle, trigger: { kind: "api" } };
    let next = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < N) {
          const id = `r${next++}`;
          await store.queue.submit({ id, plan, spec, failFast: false, trigger: "api" });
        }
      }),
    );
  });
  const claimMs = await timed(async () => {
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        for (;;) {
          const [c] = await store.queue.claim({ workerId: `w${w}`, max: 1, leaseMs: 60_000 });
          if (!c) return;
          await store.queue.finish(c.lease, { status: "success", attempts: 1, outputs: {}, durationMs: 0 });
        }
      }),
    );
  });
  return { enqueueMs, claimMs };
}

async function raw() {
  const schema = `bench_raw_${process.pid}`;
  await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.q (id BIGSERIAL PRIMARY KEY, state TEXT NOT NULL, payload TEXT NOT NULL, worker TEXT, lease BIGINT);
    CREATE INDEX ON ${schema}.q (id) WHERE state = 'available';`);
  const pool = new pg.Pool({ connectionString: URL_, max: WORKERS });
  try {
    let next = 0;
    const enqueueMs = await timed(() =>
      Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (next++ < N) await pool.query(`INSERT INTO ${schema}.q (state, payload) VALUES ('available', '{}')`);
        }),
      ),
    );
    const claimMs = await timed(() =>
      Promise.all(
        Array.from({ length: WORKERS }, async (_, w) => {
          for (;;) {
            const r = await pool.query(
              `UPDATE ${schema}.q e SET state = 'claimed', worker = $1, lease = $2 FROM (SELECT id FROM ${schema}.q WHERE state = 'available' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) c WHERE e.id = c.id RETURNING e.id`,
              [`w${w}`, Date.now() + 60_000],
            );
            if (r.rowCount === 0) return;
            await pool.query(`UPDATE ${schema}.q SET state = 'done' WHERE id = $1`, [r.rows[0].id]);
          }
        }),
      ),
    );
    return { enqueueMs, claimMs };
  } finally {
    await pool.end();
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

async function graphile() {
  const { makeWorkerUtils, run, Logger } = await import("graphile-worker");
  const logger = new Logger(() => () => undefined);
  const schema = `bench_graphile_${process.pid}`;
  const utils = await makeWorkerUtils({ connectionString: URL_, schema, logger });
  await utils.migrate();
  try {
    let next = 0;
    const enqueueMs = await timed(() =>
      Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (next++ < N) await utils.addJob("noop", {});
        }),
      ),
    );
    let done = 0;
    let finish;
    const all = new Promise((r) => (finish = r));
    const t = performance.now();
    const runner = await run({
      connectionString: URL_,
      schema,
      concurrency: WORKERS,
      noHandleSignals: true,
      pollInterval: 50,
      logger,
      taskList: {
        noop: async () => {
          if (++done === N) finish();
        },
      },
    });
    await all;
    const claimMs = performance.now() - t;
    await runner.stop();
    return { enqueueMs, claimMs };
  } finally {
    await utils.release();
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

async function pgBoss() {
  const { default: PgBoss } = await import("pg-boss");
  const schema = `bench_pgboss_${process.pid}`;
  const boss = new PgBoss({ connectionString: URL_, schema, max: WORKERS + 2 });
  boss.on("error", () => undefined);
  await boss.start();
  try {
    await boss.createQueue("noop");
    let next = 0;
    const enqueueMs = await timed(() =>
      Promise.all(
        Array.from({ length: WORKERS }, async () => {
          while (next++ < N) await boss.send("noop", {});
        }),
      ),
    );
    let done = 0;
    let finish;
    const all = new Promise((r) => (finish = r));
    const t = performance.now();
    for (let i = 0; i < WORKERS; i++) {
      await boss.work("noop", { batchSize: 1, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        done += jobs.length;
        if (done >= N) finish();
      });
    }
    await all;
    return { enqueueMs, claimMs: performance.now() - t };
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

const rate = (ms) => (N / ms) * 1000;
const cell = (r) => `${rate(r).toFixed(0)} jobs/s`;

export async function benchmarks() {
  const schema = `bench_gantry_${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), "gantry-bench-queue-"));
  const pgStore = openPostgresStore({ url: withSchema(schema), blobDir: join(dir, "blobs") });
  let g;
  try {
    g = await gantry(pgStore);
  } finally {
    await pgStore.close();
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
  const floor = await raw();
  const others = {};
  for (const [name, fn] of [
    ["graphile-worker 0.17", graphile],
    ["pg-boss 10", pgBoss],
  ]) {
    try {
      others[name] = await fn();
    } catch (error) {
      others[name] = { error: error?.message ?? String(error) };
    }
  }
  const sqliteStore = openSqliteStore({ path: join(dir, "q.db") });
  let s;
  try {
    s = await gantry(sqliteStore);
  } finally {
    await sqliteStore.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [
    {
      name: `queue enqueue, ${N} no-op jobs, PostgreSQL: Gantry vs raw INSERT`,
      gantry: cell(g.enqueueMs),
      raw: cell(floor.enqueueMs),
      ratio: rate(g.enqueueMs) / rate(floor.enqueueMs),
      target: "(reported)",
      ok: true,
    },
    {
      name: `queue claim+complete, ${WORKERS} workers: Gantry vs raw SKIP LOCKED`,
      gantry: cell(g.claimMs),
      raw: cell(floor.claimMs),
      ratio: rate(g.claimMs) / rate(floor.claimMs),
      target: ">= 0.5x",
      ok: rate(g.claimMs) / rate(floor.claimMs) >= 0.5,
    },
  ];
  for (const [name, r] of Object.entries(others)) {
    if (r.error) {
      rows.push({
        name: `queue claim+complete: Gantry vs ${name}`,
        gantry: cell(g.claimMs),
        raw: `failed: ${r.error}`,
        ratio: NaN,
        target: ">= 2x",
        ok: false,
      });
      continue;
    }
    rows.push({
      name: `queue enqueue: Gantry vs ${name}`,
      gantry: cell(g.enqueueMs),
      raw: cell(r.enqueueMs),
      ratio: rate(g.enqueueMs) / rate(r.enqueueMs),
      target: "(reported)",
      ok: true,
    });
    const ratio = rate(g.claimMs) / rate(r.claimMs);
    rows.push({
      name: `queue claim+complete: Gantry vs ${name}`,
      gantry: cell(g.claimMs),
      raw: cell(r.claimMs),
      ratio,
      target: name.startsWith("graphile") ? ">= 2x" : "(reported)",
      ok: name.startsWith("graphile") ? ratio >= 2 : true,
    });
  }
  rows.push({
    name: "queue on SQLite (enqueue / claim+complete)",
    gantry: `${cell(s.enqueueMs)} / ${cell(s.claimMs)}`,
    raw: "-",
    ratio: NaN,
    target: "(reported)",
    ok: true,
  });
  return rows;
}
