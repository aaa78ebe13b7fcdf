// Store benchmarks (`npm run bench store`, or `node bench/store.mjs` after `npm run build`):
//
// 1. Log ingestion: 1 M log lines (BENCH_LINES) emitted as `log` events of
//    1,000 lines each (one block, as a step's output arrives), through the
//    event bus and the store writer into SQLite and PostgreSQL, against a raw
//    INSERT of the same chunk rows the store writes (1,000 lines per row: the
//    lines joined with "\n" plus the segment header, as `encodeChunk` makes
//    them; 20 rows per transaction, the writer's `batchLines`), with the same
//    driver and settings, on the main thread. Target >= 0.5x.
// 2. `gantry runs` with 10,000 runs in the history: the command as a user
//    runs it (open, migrate check, recovery check, list 20, render, close),
//    median of 15, against the raw SELECT. Target < 200 ms.
//
// Imports the built code from dist/ (GANTRY_DIST overrides the directory).
// PostgreSQL: GANTRY_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test;
// skipped with a note when unreachable.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
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
const { encodeChunk } = await load("store/sql-rows.js");
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
/** The lines of the burst starting at line `i` (built before timing: both sides get the same strings). */
const BURSTS = [];
const burstOf = (i) => BURSTS[i / BURST];
for (let i = 0; i < LINES; i += BURST) BURSTS.push(Array.from({ length: Math.min(BURST, LINES - i) }, (_, k) => lineOf(i + k)));

/** The chunk rows the store writes for the bench's lines: [seq, tsFirst, lineCount, bytes, text, segments]. */
function chunkRow(i, ts) {
  const row = encodeChunk({
    runId: "bench",
    jobId: "build",
    stepIndex: 0,
    seq: i / BURST + 1,
    segments: [{ ts, stream: "stdout", lines: burstOf(i) }],
  });
  return [i / BURST + 1, row.tsFirst, row.lineCount, row.bytes, row.text, row.segments];
}
const RAW_TABLE =
  "CREATE TABLE raw_chunks (run_id TEXT, job_id TEXT, seq INTEGER, step_index INTEGER, ts_first BIGINT, line_count INTEGER, bytes INTEGER, lines TEXT, segments TEXT, PRIMARY KEY (run_id, job_id, seq))";
/** Chunks per transaction: the store writer's `batchLines` (20,000) of 1,000-line chunks. */
const ROWS_PER_TX = 20;

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
  for (let i = 0; i < LINES; i += BURST) {
    bus.emit("log", { runId: "bench", ts: Date.now(), jobId: "build", stepIndex: 0, stream: "stdout", lines: burstOf(i) });
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
  db.pragma("synchronous = NORMAL");
  db.exec(RAW_TABLE);
  const insert = db.prepare("INSERT INTO raw_chunks VALUES ('bench', 'build', ?, 0, ?, ?, ?, ?, ?)");
  const batch = db.transaction((from, to, ts) => {
    for (let i = from; i < to; i += BURST) insert.run(...chunkRow(i, ts));
  });
  const start = now();
  for (let i = 0; i < LINES; i += ROWS_PER_TX * BURST) batch(i, Math.min(LINES, i + ROWS_PER_TX * BURST), Date.now());
  const ms = now() - start;
  db.close();
  return ms;
}

async function rawPostgres(schema) {
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await client.connect();
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await client.query(RAW_TABLE);
  const start = now();
  for (let i = 0; i < LINES;) {
    await client.query("BEGIN");
    const ts = Date.now();
    for (const end = Math.min(LINES, i + ROWS_PER_TX * BURST); i < end; i += BURST)
      await client.query("INSERT INTO raw_chunks VALUES ('bench', 'build', $1, 0, $2, $3, $4, $5, $6)", chunkRow(i, ts));
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
        const pgRepo = join(dir, "pg-repo");
        mkdirSync(pgRepo, { recursive: true });
        const store = openPostgresStore({ url, blobDir: join(dir, "pg-blobs") });
        await seedRuns(store);
        await store.close();
        const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schemas[2]}` });
        await client.connect();
        rows.push(
          await runsLatency(`gantry runs, ${RUNS} runs, PostgreSQL`, pgRepo, { GANTRY_DATABASE_URL: url }, () =>
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
