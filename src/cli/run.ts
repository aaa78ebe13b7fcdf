/**
 * `gantry run`: load, resolve env, compile, run the plan on its executors
 * with a live reporter and the run's log files, exit 0 / 1 / 130.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseDotenv } from "dotenv";
import type { RunStatus } from "../core/context.js";
import { coerceError, GantryError } from "../core/errors.js";
import { EventBus, type GantryEvent } from "../core/events.js";
import type { Plan } from "../core/plan-types.js";
import { Redactor } from "../engine/redact.js";
import { redactPlan } from "../engine/redact-plan.js";
import { runPlan, selectJobs, type RunResult } from "../engine/run.js";
import { resolveEnv } from "../env/resolve.js";
import { defaultStateDir } from "../loader/bundle.js";
import { chooseReporter } from "../reporters/choose.js";
import type { Reporter } from "../reporters/reporter.js";
import { createRunLog } from "../reporters/run-log.js";
import { openStore, pendingDirOf } from "../store/open.js";
import { pruneDeadRuns } from "../executors/local/run-root.js";
import { createStoreWriter, StoreUnrecordedError } from "../store/writer.js";
import { colorEnabled, type CliIo } from "./io.js";
import { createContainerRuntime } from "../executors/container/index.js";
import { createExecutorProvider, unavailableExecutors } from "./executors.js";
import { createRunCache } from "./run-cache.js";
import type { RunOptions } from "./run-options.js";
import { repoDirOf, selectWorkflow, type CompiledWorkflow } from "./workflows.js";

/** `20261123-101502-3fa9`: sortable by time, unique enough for one machine. */
export function newRunId(date = new Date()): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  const day = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
  return `${day}-${time}-${randomBytes(2).toString("hex")}`;
}

export function exitCodeFor(status: RunStatus): number {
  if (status === "success") return 0;
  if (status === "cancelled" || status === "interrupted") return 130;
  return 1;
}

/**
 * Names the command line makes known before any decryption: the process env,
 * `--env`, `--secret` and plain dotenv files. Used for the compile-time
 * `env.required` check; sops files are checked after decryption.
 */
function commandLineEnv(repoDir: string, options: RunOptions): NodeJS.ProcessEnv {
  const known: NodeJS.ProcessEnv = { ...process.env };
  for (const file of [...options.envFile, ...options.secretFile]) {
    try {
      Object.assign(known, parseDotenv(readFileSync(resolve(repoDir, file), "utf8")));
    } catch {
      // missing or unreadable: resolveEnv reports it with the file's name
    }
  }
  return { ...known, ...options.env, ...options.secret };
}

/** Ctrl-C / SIGTERM: the first cancels, the second forces; both remembered for the exit code. */
function trapSignals(): { signal: AbortSignal; force: AbortSignal; dispose(): void } {
  const cancel = new AbortController();
  const force = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (!cancel.signal.aborted) {
      process.stderr.write(`\ngantry: ${name}: cancelling the run (again to stop at once)\n`);
      cancel.abort(new DOMException(`interrupted by ${name}`, "AbortError"));
    } else if (!force.signal.aborted) {
      process.stderr.write(`\ngantry: ${name}: stopping now\n`);
      force.abort(new DOMException(`interrupted twice by ${name}`, "AbortError"));
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    signal: cancel.signal,
    force: force.signal,
    dispose() {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

export interface RunOnceResult {
  readonly runId: string;
  readonly runDir: string;
  readonly plan: Plan;
  readonly result: RunResult;
  /** False when the store did not take the whole record (the message was printed). */
  readonly recorded: boolean;
}

/** One run of an already compiled workflow. */
export interface RunCompiledExtras {
  /** Jobs taken from an earlier run instead of running (`--watch`, `rerun`). */
  readonly restore?: Parameters<typeof runPlan>[0]["restore"];
  readonly trigger?: string;
  readonly parentRunId?: string;
  /** More subscribers of the run's events. */
  readonly listeners?: ReadonlyArray<(event: GantryEvent) => void>;
}

export async function runCompiled(
  compiled: CompiledWorkflow,
  options: RunOptions,
  io: CliIo,
  extras: RunCompiledExtras = {},
): Promise<RunOnceResult> {
  const repoDir = repoDirOf(options);
  const { loaded, plan } = compiled;
  await refuseUnavailableExecutors(compiled, options, extras);
  const env = await resolveEnv(loaded.workflow.env ?? [], {
    repoDir,
    workflowFile: loaded.file,
    workflowName: plan.workflow.name,
    processEnv: process.env,
    cli: {
      envFiles: options.envFile.map((f) => resolve(repoDir, f)),
      secretFiles: options.secretFile.map((f) => resolve(repoDir, f)),
      env: options.env,
      secrets: options.secret,
    },
  });

  const runId = newRunId();
  const runDir = join(defaultStateDir(repoDir), "runs", runId);
  await mkdir(runDir, { recursive: true });
  // Masked: a secret interpolated into a script at definition time is in the plan.
  await writeFile(join(runDir, "plan.json"), `${JSON.stringify(redactPlan(plan, new Redactor(env.secretValues)), null, 2)}\n`);

  const bus = new EventBus((error) => io.err(`gantry: an event subscriber failed: ${coerceError(error).message}`));
  const { flow } = bus;
  const reporters: Reporter[] = [
    chooseReporter(options.logFormat, process.stdout, { isTTY: process.stdout.isTTY === true, color: colorEnabled(process.stdout), flow }),
  ];
  // The store keeps the logs; files are written only when asked for.
  if (options.logDir !== undefined) reporters.push(createRunLog(resolve(options.logDir), { flow }));
  for (const reporter of reporters) bus.subscribe((event) => reporter.onEvent(event));
  for (const listener of extras.listeners ?? []) bus.subscribe(listener);

  const store = await openStore({ repoDir });
  const writer = createStoreWriter(store, {
    runId,
    trigger: extras.trigger ?? "manual",
    ...(extras.parentRunId ? { parentRunId: extras.parentRunId } : {}),
    bundleCode: () => loaded.source,
    spillFile: join(pendingDirOf(defaultStateDir(repoDir)), `${runId}.jsonl`),
    giveUpMs: giveUpMs(process.env),
    onError: (error) => io.err(`gantry: could not record the run in ${store.location} (retrying; nothing is dropped): ${error.message}`),
    onRecovered: () => io.err(`gantry: the store at ${store.location} takes writes again; the record is being caught up`),
  });
  bus.subscribe(writer.onEvent);
  const runCache = createRunCache(store, repoDir);
  bus.subscribe(runCache.onEvent);

  // What runs killed by SIGKILL left behind (processes, scratch directories) goes first.
  await pruneDeadRuns(tmpdir()).catch(() => undefined);
  const signals = trapSignals();
  // Lazy: it finds an engine only when a step first asks for a container.
  const containers = createContainerRuntime();
  const executors = createExecutorProvider({ containers });
  let closed: Promise<boolean> | undefined;
  try {
    const result = await runPlan({
      plan,
      workflow: loaded.workflow,
      executorFor: executors.executorFor,
      bus,
      runId,
      repoDir,
      runDir,
      blobs: store.artifacts.blobs,
      env: { values: env.values, secretValues: env.secretValues },
      concurrency: options.concurrency ?? availableParallelism(),
      failFast: options.failFast ?? plan.workflow.failFast === true,
      ...(options.job.length > 0 ? { select: { jobs: options.job, only: options.only } } : {}),
      signal: signals.signal,
      forceSignal: signals.force,
      ...(extras.restore ? { restore: extras.restore } : {}),
      containers,
      cache: runCache,
      ...(options.logLimit !== undefined ? { logLimit: options.logLimit } : {}),
    });
    return { runId, runDir, plan, result, recorded: await finish() };
  } finally {
    await finish();
  }

  /** Close the reporters and the writer once; false when the record is incomplete. */
  async function finish(): Promise<boolean> {
    closed ??= (async () => {
      signals.dispose();
      const closing = await Promise.allSettled([...reporters.map((r) => r.close()), writer.close().finally(() => store.close())]);
      let recorded = true;
      for (const c of closing) {
        if (c.status === "fulfilled") continue;
        if (c.reason instanceof StoreUnrecordedError) recorded = false;
        io.err(`gantry: ${coerceError(c.reason).message}`);
      }
      return recorded;
    })();
    return closed;
  }
}

/**
 * Plan-time check, before anything starts: every executor the jobs to run use
 * can run on this machine (the kinds' probes, as `gantry validate` does).
 * Throws `PLAN_INVALID` (exit 2) with one line per executor that cannot.
 */
async function refuseUnavailableExecutors(compiled: CompiledWorkflow, options: RunOptions, extras: RunCompiledExtras): Promise<void> {
  const { plan, loaded } = compiled;
  const restored = extras.restore?.jobs ?? {};
  const select = options.job.length > 0 ? { jobs: options.job, only: options.only } : undefined;
  const jobs = [...selectJobs(plan, select)].filter((id) => !(id in restored));
  const unavailable = await unavailableExecutors(plan, jobs);
  if (unavailable.length > 0) throw new GantryError("PLAN_INVALID", unavailable.map((line) => `${loaded.file}: ${line}`).join("\n"));
}

/** Select and compile the workflow of a `run`, checking required env against what the command line makes known. */
export function compileForRun(options: RunOptions): Promise<CompiledWorkflow> {
  return selectWorkflow({ ...options, env: commandLineEnv(repoDirOf(options), options), inputs: options.inputs ?? {} });
}

export async function runCommand(options: RunOptions, io: CliIo): Promise<number> {
  const { result, recorded } = await runCompiled(await compileForRun(options), options, io);
  return exitCodeForRecorded(result.status, recorded);
}

/** The run's exit code, or 1 for a green run whose record the store did not take. */
export function exitCodeForRecorded(status: RunStatus, recorded: boolean): number {
  const code = exitCodeFor(status);
  return code === 0 && !recorded ? 1 : code;
}

/** How long the end of a run waits for an unreachable store: `GANTRY_STORE_RETRY_SECONDS` (default 60). */
function giveUpMs(env: NodeJS.ProcessEnv): number {
  const seconds = Number(env.GANTRY_STORE_RETRY_SECONDS ?? 60);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 60_000;
}
