// Log throughput (issue 10, bench c), side by side in one run: one step
// printing BENCH_LOG_MB (default 200) MB of lines through redaction, the
// plain reporter writing to a file, and the store writer attached (SQLite),
// as `gantry run` does (run log files are opt-in and off), against Node
// reading the same child's output and discarding it. Then the same with 50
// registered secrets, and the runner's peak RSS while a step prints
// BENCH_LOG_RSS_MB (default 1024) MB into a slow terminal.
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { compileWorkflow, job, sh, workflow } from "../dist/index.js";
import { EventBus } from "../dist/core/events.js";
import { runPlan } from "../dist/engine/run.js";
import { createLocalExecutor } from "../dist/executors/local/index.js";
import { createPlainReporter } from "../dist/reporters/plain.js";
import { openSqliteStore } from "../dist/store/sqlite-store.js";
import { createStoreWriter } from "../dist/store/writer.js";
import { median } from "./lib.mjs";

const LINE = "2026-11-23T10:00:00.000Z INFO bench: a log line of some eighty characters, like a build prints";
const MB = Number(process.env.BENCH_LOG_MB ?? 200);
const RSS_MB = Number(process.env.BENCH_LOG_RSS_MB ?? 1024);
const local = { kind: "local", options: { copyRepo: false } };
let runs = 0;

const printer = (mb) => `(yes '${LINE}' || true) | head -c ${mb * 1024 * 1024}`;

export async function runThroughGantry(work, mb, secrets, out) {
  const def = workflow({
    name: "logs",
    defaults: { executor: local },
    jobs: { print: job({ logLimit: "100GiB", steps: [sh(printer(mb))] }) },
  });
  const plan = compileWorkflow(def, { file: "bench.ts", bundle: "0".repeat(64) });
  const runId = `bench-logs-${process.pid}-${runs++}`;
  const bus = new EventBus((e) => console.error("subscriber failed", e));
  const reporter = createPlainReporter(out, { flow: bus.flow });
  bus.subscribe((e) => reporter.onEvent(e));
  const store = openSqliteStore({ path: join(work, `state-${runId}.db`), blobDir: join(work, "blobs") });
  await store.migrate();
  const writer = createStoreWriter(store, { runId, flow: bus.flow });
  bus.subscribe(writer.onEvent);
  const result = await runPlan({
    plan,
    workflow: def,
    bus,
    runId,
    repoDir: work,
    runDir: join(work, runId),
    blobs: store.artifacts.blobs,
    executorFor: (d) => createLocalExecutor(d, { baseDir: work }),
    env: { values: {}, secretValues: secrets },
    concurrency: 1,
    failFast: true,
    signal: new AbortController().signal,
  });
  await reporter.close();
  await writer.close();
  await store.close();
  if (result.status !== "success") throw new Error(`bench run failed: ${JSON.stringify(result.jobs).slice(0, 500)}`);
}

function rawRead(mb) {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/sh", ["-c", printer(mb)], { stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.on("data", () => {});
    child.on("error", reject);
    child.on("close", resolve);
  });
}

const secrets50 = Array.from({ length: 50 }, (_, i) => `bench-secret-${i}-${"s".repeat(10 + i)}`);

/** A terminal that takes 64 KiB every millisecond or so: far slower than the step prints. */
function slowTerminal() {
  return new Writable({
    highWaterMark: 64 * 1024,
    write(_chunk, _enc, cb) {
      setImmediate(cb);
    },
  });
}

export async function benchmarks() {
  const work = mkdtempSync(join(tmpdir(), "gantry-bench-logs-"));
  try {
    const rows = [];
    const file = join(work, "terminal.txt");
    const mbps = (ms) => MB / (ms / 1000);
    const raw = await median(() => rawRead(MB), 3);
    for (const [label, secrets, target] of [
      ["no secrets", [], 0.5],
      ["50 secrets", secrets50, 0.4],
    ]) {
      const gantry = await median(async () => {
        const out = createWriteStream(file);
        await runThroughGantry(work, MB, secrets, out);
        await new Promise((r) => out.end(r));
      }, 3);
      rows.push({
        name: `(c) ${MB} MB of lines, ${label}, plain to a file + store (MB/s)`,
        gantryMs: gantry,
        rawMs: raw,
        gantryRate: mbps(gantry),
        rawRate: mbps(raw),
        target,
        higherIsBetter: true,
      });
    }
    // Memory, in a fresh process: a step printing RSS_MB into a slow terminal; back-pressure keeps the runner small.
    const { peak, before } = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [new URL(import.meta.url).pathname, "rss"], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (c) => (out += c));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`rss run exited ${code}`))));
    });
    rows.push({
      name: `(c) ${RSS_MB} MB into a slow terminal: peak RSS of the runner`,
      gantry: `${(peak / 1024 / 1024).toFixed(0)} MB`,
      raw: `${(before / 1024 / 1024).toFixed(0)} MB at start`,
      ratio: peak / 1024 / 1024 / 200,
      target: "< 200 MB",
      ok: peak < 200 * 1024 * 1024,
    });
    return rows;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// One pass through Gantry, for profiling: `node --cpu-prof bench/logs.mjs once [secrets]`.
if (process.argv[2] === "once") {
  const work = mkdtempSync(join(tmpdir(), "gantry-bench-once-"));
  const out = createWriteStream(join(work, "terminal.txt"));
  const start = performance.now();
  await runThroughGantry(work, MB, process.argv[3] === "secrets" ? secrets50 : [], out);
  await new Promise((r) => out.end(r));
  const ms = performance.now() - start;
  rmSync(work, { recursive: true, force: true });
  console.log(`${MB} MB in ${ms.toFixed(0)} ms: ${(MB / (ms / 1000)).toFixed(0)} MB/s`);
}

if (process.argv[2] === "rss") {
  const work = mkdtempSync(join(tmpdir(), "gantry-bench-rss-"));
  let peak = 0;
  const before = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  await runThroughGantry(work, RSS_MB, [], slowTerminal());
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage.rss());
  rmSync(work, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ peak, before }));
}
