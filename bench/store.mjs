// Store benchmarks (`npm run bench store`, or `node bench/store.mjs` after `npm run build`):
//
// 1. Log ingestion: 1 M log lines (BENCH_LINES) emitted in bursts of 1,000 as a
//    step printing would, through the event bus and the store writer into
//    SQLite and PostgreSQL, against a raw batched INSERT loop with the same
//    driver and settings (one row per line, 10,000 rows per transaction on
//    SQLite, 1,000-row multi-VALUES INSERTs on PostgreSQL). Target >= 0.5x.
// 2. `gantry runs` with 10,000 runs in the history: the command as a user
//    runs it (open, migrate check, recovery check, list 20, render, close),
//    median of 15, against the raw SELECT. Target < 200 ms.
//
// Imports the built code from dist/ (GANTRY_DIST overrides the directory).
// PostgreSQL: GANTRY_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test;
// skipped with a note when unreachable.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { machine, median, now, table } from "./lib.mjs";

const dist = resolve(process.env.GANTRY_DIST ?? new URL("../dist", import.meta.url).pathname);
const load = (path) => import(pathToFileURL(join(dist, path)).href);
const { EventBus } = await load("core/events.js");
const { openSqliteStore } = await load("store/sqlite-store.js");
const { openPostgresStore } = await load("store/postgres-store.js");
const { createStoreWriter } = await load("store/writer.js");
const { samplePlan, samplePlanJob } = await load("store/fixtures.js");
const { runsCommand } = await load("cli/runs.js");

const LINES = Number(process.env.BENCH_LINES ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const PG_URL = process.env.GANTRY_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const BURST = 1000;

/** A line like a test runner's output: ~70 bytes, a counter so no two are equal. */
const lineOf = (i) => `  ✓ src/module-${i % 97}/feature.test.ts > handles case ${i} (${i % 13} ms)`;
const LINE_BYTES = (() => {
  let total = 0;
  for (let i = 0; i < 10_000; i++) total += Buffer.byteLength(lineOf(i)) + 1;
  return total / 10_000;
})();
const yieldNow = () => new Promise((r) => setImmediate(r));

async function ingestThroughWriter(store) {
  await store.migrate();
  const bus = new EventBus();
  const writer = createStoreWriter(store, { runId: "bench" });
  bus.subscribe(writer.onEvent);
  const plan = samplePlan("bench", [samplePlanJob("build", { steps: ["print"] })]);
  const start = now();
  bus.emit("run.started", { runId: "bench", plan, jobIds: ["build"] });
  bus.emit("job.started", { runId: "bench", jobId: "build", attempt: 1, executor: "local" });
  bus.emit("step.started", { runId: "bench", jobId: "build", stepIndex: 0, name: "print", attempt: 1 });
  for (let i = 0; i < LINES;) {
    const ts = Date.now();
    for (const end = Math.min(LINES, i + BURST); i < end; i++)
      bus.emit("log", { runId: "bench", ts, jobId: "build", stepIndex: 0, stream: "stdout", line: lineOf(i) });
    await yieldNow();
  }
  bus.emit("run.finished", { runId: "bench", status: "success", durationMs: 1 });
  await writer.close();
  const ms = now() - start;
  if (writer.committedLines !== LINES) throw new Error(`writer committed ${writer.committedLines} of ${LINES} lines`);
  return ms;
}

async function rawSqlite(path) {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(
    "CREATE TABLE raw_lines (run_id TEXT, job_id TEXT, seq INTEGER, ts BIGINT, stream TEXT, line TEXT, PRIMARY KEY (run_id, job_id, seq))",
  );
  const insert = db.prepare("INSERT INTO raw_lines VALUES (?, ?, ?, ?, ?, ?)");
  const batch = db.transaction((from, to, ts) => {
    for (let i = from; i < to; i++) insert.run("bench", "build", i, ts, "stdout", lineOf(i));
  });
  const start = now();
  for (let i = 0; i < LINES; i += 10_000) batch(i, Math.min(LINES, i + 10_000), Date.now());
  const ms = now() - start;
  db.close();
  return ms;
}

async function rawPostgres(schema) {
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await client.connect();
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await client.query(
    "CREATE TABLE raw_lines (run_id TEXT, job_id TEXT, seq INTEGER, ts BIGINT, stream TEXT, line TEXT, PRIMARY KEY (run_id, job_id, seq))",
  );
  const start = now();
  for (let i = 0; i < LINES;) {
    await client.query("BEGIN");
    for (const end = Math.min(LINES, i + 10_000); i < end;) {
      const values = [];
      const params = [];
      const ts = Date.now();
      for (const stop = Math.min(end, i + 1000); i < stop; i++) {
        const n = params.length;
        values.push(`($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}, $${n + 5}, $${n + 6})`);
        params.push("bench", "build", i, ts, "stdout", lineOf(i));
      }
      await client.query(`INSERT INTO raw_lines VALUES ${values.join(", ")}`, params);
    }
    await client.query("COMMIT");
  }
  const ms = now() - start;
  await client.end();
  return ms;
}

function ingestRow(name, gantryMs, rawMs) {
  const rate = (ms) => LINES / (ms / 1000);
  const cell = (ms) => `${(rate(ms) / 1000).toFixed(0)}k lines/s, ${((rate(ms) * LINE_BYTES) / 1e6).toFixed(1)} MB/s`;
  const ratio = rate(gantryMs) / rate(rawMs);
  return { name, gantry: cell(gantryMs), raw: cell(rawMs), ratio, target: ">= 0.5x", ok: ratio >= 0.5 };
}

/** 10,000 finished runs of 3 workflows, 2 jobs each, written in batches. */
async function seedRuns(store) {
  await store.migrate();
  const t0 = Date.now() - RUNS * 60_000;
  for (let i = 0; i < RUNS; i += 500) {
    const ops = [];
    for (let k = i; k < Math.min(RUNS, i + 500); k++) {
      const id = `bench-${String(k).padStart(6, "0")}`;
      const startedAt = t0 + k * 60_000;
      ops.push({
        op: "run",
        run: {
          id,
          workflow: ["ci", "deploy", "nightly"][k % 3],
          file: ".gantry/ci.ts",
          trigger: "push",
          planHash: null,
          startedAt,
          owner: null,
        },
      });
      for (const jobId of ["build", "test"])
        ops.push({
          op: "job",
          job: { runId: id, jobId, status: "success", attempts: 1, startedAt, finishedAt: startedAt + 1000, durationMs: 1000 },
        });
      ops.push({
        op: "run.finish",
        runId: id,
        status: k % 10 === 0 ? "failure" : "success",
        finishedAt: startedAt + 2000,
        durationMs: 2000,
      });
    }
    await store.write(ops);
  }
}

const silentIo = () => {
  const plain = { bold: (s) => s, green: (s) => s, red: (s) => s, yellow: (s) => s, cyan: (s) => s, dim: (s) => s };
  return { out: () => undefined, err: () => undefined, color: plain, errColor: plain };
};

async function runsLatency(name, repoDir, env, rawList) {
  const gantryMs = await median(async () => {
    if ((await runsCommand({ dir: repoDir }, silentIo(), { env })) !== 0) throw new Error("gantry runs failed");
  }, 15);
  const rawMs = await median(rawList, 15);
  return {
    name,
    gantry: `${gantryMs.toFixed(1)} ms`,
    raw: `${rawMs.toFixed(1)} ms (SELECT)`,
    ratio: gantryMs / rawMs,
    target: "< 200 ms",
    ok: gantryMs < 200,
  };
}

async function postgresReachable() {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return error.message || error.code;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropSchemas(names) {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  for (const s of names) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await client.end();
}

export async function benchmarks() {
  const rows = [];
  const dir = mkdtempSync(join(tmpdir(), "gantry-bench-store-"));
  try {
    // SQLite ingestion.
    const sqliteMs = await ingestThroughWriter(openSqliteStore({ path: join(dir, "writer", "gantry.db") }));
    const rawMs = await rawSqlite(join(dir, "raw.db"));
    rows.push(ingestRow(`log ingestion, ${LINES / 1e6} M lines, SQLite`, sqliteMs, rawMs));

    // `gantry runs` on SQLite with 10,000 runs.
    const repo = join(dir, "repo");
    const seeded = openSqliteStore({ path: join(repo, ".gantry", "state", "gantry.db") });
    await seedRuns(seeded);
    await seeded.close();
    const db = new Database(join(repo, ".gantry", "state", "gantry.db"), { readonly: true });
    const select = db.prepare("SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT 20");
    rows.push(await runsLatency(`gantry runs, ${RUNS} runs, SQLite`, repo, {}, async () => select.all()));
    db.close();

    // PostgreSQL.
    const why = await postgresReachable();
    if (why) {
      console.log(`store bench: PostgreSQL at ${PG_URL} unreachable (${why}); PostgreSQL rows skipped`);
    } else {
      const tag = `${process.pid}_${Date.now().toString(36)}`;
      const schemas = [`bench_writer_${tag}`, `bench_raw_${tag}`, `bench_runs_${tag}`];
      try {
        const sep = PG_URL.includes("?") ? "&" : "?";
        const pgMs = await ingestThroughWriter(
          openPostgresStore({ url: `${PG_URL}${sep}schema=${schemas[0]}`, blobDir: join(dir, "pg-blobs") }),
        );
        const pgRawMs = await rawPostgres(schemas[1]);
        rows.push(ingestRow(`log ingestion, ${LINES / 1e6} M lines, PostgreSQL`, pgMs, pgRawMs));

        const url = `${PG_URL}${sep}schema=${schemas[2]}`;
        const store = openPostgresStore({ url, blobDir: join(dir, "pg-blobs") });
        await seedRuns(store);
        await store.close();
        const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schemas[2]}` });
        await client.connect();
        rows.push(
          await runsLatency(`gantry runs, ${RUNS} runs, PostgreSQL`, join(dir, "pg-repo"), { GANTRY_DATABASE_URL: url }, () =>
            client.query("SELECT * FROM runs ORDER BY started_at DESC, id DESC LIMIT 20"),
          ),
        );
        await client.end();
      } finally {
        await dropSchemas(schemas);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const rows = await benchmarks();
  console.log(`Store benchmarks on ${machine()}\n${table(rows)}`);
}
