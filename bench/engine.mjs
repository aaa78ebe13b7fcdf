// Engine benchmarks, side by side with the raw operation in the same run:
// (a) per-step overhead, (b) a 500-job DAG vs make -j2, (c) log throughput.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { job, sh, workflow, compileWorkflow } from "../dist/index.js";
import { EventBus } from "../dist/core/events.js";
import { runPlan } from "../dist/engine/run.js";
import { createLocalExecutor } from "../dist/executors/local/index.js";
import { createPlainReporter } from "../dist/reporters/plain.js";
import { createRunLog } from "../dist/reporters/run-log.js";
import { openStore } from "../dist/store/open.js";
import { createStoreWriter } from "../dist/store/writer.js";
import { median, spawnWait } from "./lib.mjs";

const work = mkdtempSync(join(tmpdir(), "gantry-bench-"));
let runs = 0;

function nullSink() {
  return new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}

let store;

/**
 * Run a workflow definition in-process through the whole output path (plain reporter, run log, redaction)
 * and the store writer (SQLite), as `gantry run` does.
 */
async function runWorkflow(def, { concurrency = 2, secrets = ["bench-secret-value"], output = nullSink() } = {}) {
  const plan = compileWorkflow(def, { file: "bench.ts", bundle: "0".repeat(64) });
  const runId = `bench-${process.pid}-${runs++}`;
  const runDir = join(work, runId);
  const bus = new EventBus((e) => console.error("subscriber failed", e));
  store ??= await openStore({ repoDir: work });
  const writer = createStoreWriter(store, {
    runId,
    trigger: "manual",
    bundleCode: () => "",
    onError: (e) => console.error("store writer failed", e),
  });
  const reporters = [createPlainReporter(output), createRunLog(runDir), { onEvent: writer.onEvent, close: () => writer.close() }];
  for (const r of reporters) bus.subscribe((e) => r.onEvent(e));
  const result = await runPlan({
    plan,
    workflow: def,
    bus,
    runId,
    repoDir: work,
    runDir,
    blobs: store.artifacts.blobs,
    executorFor: (d) => createLocalExecutor(d, { baseDir: work }),
    env: { values: {}, secretValues: secrets },
    concurrency,
    failFast: true,
    signal: new AbortController().signal,
  });
  await Promise.all(reporters.map((r) => r.close()));
  rmSync(runDir, { recursive: true, force: true });
  if (result.status !== "success") throw new Error(`bench run failed: ${JSON.stringify(result.jobs).slice(0, 500)}`);
  return result;
}

const local = { kind: "local", options: { copyRepo: false } };

export async function stepOverhead(steps = 200) {
  const def = workflow({
    name: "steps",
    defaults: { executor: local },
    jobs: { seq: job({ steps: Array.from({ length: steps }, () => sh`true`) }) },
  });
  const gantry = await median(() => runWorkflow(def), 5);
  const raw = await median(async () => {
    for (let i = 0; i < steps; i++) await spawnWait("/bin/sh", ["-c", "true"]);
  }, 5);
  return { name: `(a) ${steps} sequential sh steps`, gantryMs: gantry, rawMs: raw, target: 1.3 };
}

/** 500 jobs: one root, 498 in the middle, one join; every job one `true` step. */
function dag(n) {
  const jobs = { root: job({ steps: [sh`true`] }) };
  const middle = [];
  for (let i = 0; i < n - 2; i++) {
    jobs[`j${i}`] = job({ needs: ["root"], steps: [sh`true`] });
    middle.push(`j${i}`);
  }
  jobs.join = job({ needs: middle, steps: [sh`true`] });
  return workflow({ name: "dag", defaults: { executor: local }, jobs });
}

function makefile(n) {
  const middle = Array.from({ length: n - 2 }, (_, i) => `j${i}`);
  const lines = [".PHONY: all root join " + middle.join(" "), "all: join", "root:\n\t@true"];
  for (const m of middle) lines.push(`${m}: root\n\t@true`);
  lines.push(`join: ${middle.join(" ")}\n\t@true`);
  return lines.join("\n") + "\n";
}

export async function dagVsMake(n = 500) {
  const def = dag(n);
  const gantry = await median(() => runWorkflow(def, { concurrency: 2 }), 5);
  const mk = join(work, "Makefile");
  writeFileSync(mk, makefile(n));
  const raw = await median(() => spawnWait("make", ["-j2", "-f", mk, "-s"], { cwd: work }), 5);
  return { name: `(b) ${n}-job DAG, concurrency 2 vs make -j2`, gantryMs: gantry, rawMs: raw, target: 2.5 };
}

const LINE = "2026-11-23T10:00:00.000Z INFO bench: a log line of some eighty characters, like a build prints";
const MB = Number(process.env.BENCH_LOG_MB ?? 200);

function printerScript() {
  const bytes = MB * 1024 * 1024;
  return `(yes '${LINE}' || true) | head -c ${bytes}`;
}

export async function logThroughput() {
  const script = printerScript();
  const def = workflow({ name: "logs", defaults: { executor: local }, jobs: { print: job({ steps: [sh(script)] }) } });
  const out = createWriteStream("/dev/null");
  const gantry = await median(() => runWorkflow(def, { output: out }), 3);
  out.end();
  const raw = await median(
    () =>
      new Promise((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", script], { stdio: ["ignore", "pipe", "inherit"] });
        child.stdout.on("data", () => {});
        child.on("error", reject);
        child.on("close", resolve);
      }),
    3,
  );
  const mbps = (ms) => MB / (ms / 1000);
  return {
    name: `(c) ${MB} MB of log lines (MB/s)`,
    gantryMs: gantry,
    rawMs: raw,
    gantryRate: mbps(gantry),
    rawRate: mbps(raw),
    target: 0.5,
    higherIsBetter: true,
  };
}

export async function engineBenchmarks() {
  try {
    return [await stepOverhead(), await dagVsMake(), await logThroughput()];
  } finally {
    await store?.close();
    rmSync(work, { recursive: true, force: true });
  }
}
