/**
 * Hand-built plans and a run harness around the fake executor.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobDir } from "../../src/store/blobs.js";
import type { Workflow } from "../../src/core/definition.js";
import { EventBus, type GantryEvent } from "../../src/core/events.js";
import type { Executor } from "../../src/core/executor.js";
import {
  PLAN_VERSION,
  type Plan,
  type PlanCache,
  type PlanCondition,
  type PlanExecutor,
  type PlanJob,
  type PlanRetry,
  type PlanStep,
} from "../../src/core/plan-types.js";
import { runPlan, type RunOptions, type RunResult } from "../../src/engine/run.js";
import { fakeExecutors, type FakeExecutor, type FakeExecutorOptions } from "../../src/executors/fake.js";

export const NO_RETRY: PlanRetry = { attempts: 1, backoff: "constant", delayMs: 0, maxDelayMs: 0, jitter: 0 };

export interface StepSpec {
  run?: string;
  kind?: PlanStep["kind"];
  name?: string;
  if?: PlanCondition;
  retry?: Partial<PlanRetry>;
  timeoutMs?: number;
  continueOnError?: boolean;
  env?: Record<string, string>;
  workdir?: string;
}

export interface JobSpec {
  needs?: string[];
  steps?: Array<string | StepSpec>;
  if?: PlanCondition;
  executor?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  retry?: Partial<PlanRetry>;
  continueOnError?: boolean;
  inputs?: Array<{ name: string; path: string; from: string[] }>;
  outputs?: Array<{ name: string; path: string }>;
  key?: string;
  matrix?: Record<string, string>;
  cache?: boolean;
  caches?: PlanCache[];
}

export function status(status: "success" | "failure" | "always" | "cancelled"): PlanCondition {
  return { kind: "status", status };
}

export function makeStep(spec: string | StepSpec, index: number, jobKey: string): PlanStep {
  const s: StepSpec = typeof spec === "string" ? { run: spec } : spec;
  const kind = s.kind ?? "sh";
  const step: PlanStep = {
    index,
    name: s.name ?? (s.run ?? `step ${index}`).split("\n")[0]!,
    kind,
    ref: `jobs.${jobKey}.steps[${index}]`,
    ...(kind === "sh" ? { run: s.run ?? "true" } : {}),
    ...(s.if ? { if: s.if } : {}),
    retry: { ...NO_RETRY, ...s.retry },
    ...(s.timeoutMs !== undefined ? { timeoutMs: s.timeoutMs } : {}),
    continueOnError: s.continueOnError ?? false,
    env: s.env ?? {},
    ...(s.workdir ? { workdir: s.workdir } : {}),
    hash: `step-${jobKey}-${index}`,
  };
  return step;
}

export function makeJob(id: string, spec: JobSpec = {}): PlanJob {
  const key = spec.key ?? id;
  return {
    id,
    key,
    name: id,
    matrix: spec.matrix ?? {},
    needs: spec.needs ?? [],
    if: spec.if ?? status("success"),
    executor: spec.executor ?? "local",
    steps: (spec.steps ?? ["true"]).map((s, i) => makeStep(s, i, key)),
    env: spec.env ?? {},
    ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    retry: { ...NO_RETRY, ...spec.retry },
    continueOnError: spec.continueOnError ?? false,
    inputs: { artifacts: spec.inputs ?? [] },
    outputs: { artifacts: spec.outputs ?? [] },
    cache: spec.cache ?? false,
    caches: spec.caches ?? [],
    labels: [],
    hash: `job-${id}`,
  };
}

export function makePlan(jobs: Record<string, JobSpec>, executors: string[] = []): Plan {
  const planJobs = Object.entries(jobs).map(([id, spec]) => makeJob(id, spec));
  const names = new Set([...executors, ...planJobs.map((j) => j.executor)]);
  const defs: Record<string, PlanExecutor> = {};
  for (const name of names) defs[name] = { name, kind: "local", options: {}, hash: `executor-${name}` };
  return {
    version: PLAN_VERSION,
    workflow: { name: "test", file: ".gantry/test.ts", triggers: {} },
    bundle: "bundle",
    env: [],
    executors: defs,
    jobs: planJobs,
    hash: "plan",
  };
}

export interface Harness {
  result: RunResult;
  events: GantryEvent[];
  fakes: ReadonlyMap<string, FakeExecutor>;
  violations: string[];
  delays: number[];
  runDir: string;
}

const dirs: string[] = [];
export function tempDir(prefix = "gantry-engine-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface HarnessOptions extends Partial<Omit<RunOptions, "plan" | "bus" | "executorFor">> {
  fake?: (def: PlanExecutor) => FakeExecutorOptions;
  executorFor?: (def: PlanExecutor) => Executor;
  workflow?: Workflow;
  /** Called for every event, while the run goes on (to cancel at a point). */
  onEvent?: (event: GantryEvent) => void;
}

let blobs: BlobDir | undefined;
/** One blob area for every run of a test file, as the store has one for every run. */
export function sharedBlobs(): BlobDir {
  return (blobs ??= new BlobDir(tempDir()));
}

/** Run `plan` on fake executors; delays asked of `sleep` are recorded and not waited for. */
export async function runFake(plan: Plan, options: HarnessOptions = {}): Promise<Harness> {
  const fakes = fakeExecutors(options.fake);
  const bus = new EventBus();
  const events: GantryEvent[] = [];
  bus.subscribe((e) => events.push(e));
  if (options.onEvent) bus.subscribe(options.onEvent);
  const delays: number[] = [];
  const runDir = options.runDir ?? tempDir();
  const { fake: _fake, onEvent: _onEvent, ...rest } = options;
  const result = await runPlan({
    runId: "run-1",
    repoDir: runDir,
    env: { values: {}, secretValues: [] },
    concurrency: 4,
    failFast: true,
    signal: new AbortController().signal,
    killGraceMs: 50,
    cleanupGraceMs: 2000,
    sleep: async (ms) => {
      delays.push(ms);
    },
    processEnv: {},
    ...rest,
    runDir,
    blobs: options.blobs ?? sharedBlobs(),
    plan,
    bus,
    executorFor: options.executorFor ?? fakes.executorFor,
  });
  return { result, events, fakes: fakes.executors, violations: fakes.violations(), delays, runDir };
}

export function statuses(result: RunResult): Record<string, string> {
  return Object.fromEntries(Object.entries(result.jobs).map(([id, j]) => [id, j.status]));
}

export function eventsOf<T extends GantryEvent["type"]>(events: readonly GantryEvent[], type: T): Array<Extract<GantryEvent, { type: T }>> {
  return events.filter((e): e is Extract<GantryEvent, { type: T }> => e.type === type);
}

export function logLines(events: readonly GantryEvent[], jobId?: string): string[] {
  return eventsOf(events, "log")
    .filter((e) => jobId === undefined || e.jobId === jobId)
    .flatMap((e) => e.lines);
}

export function stepStatuses(events: readonly GantryEvent[], jobId: string): string[] {
  return eventsOf(events, "step.finished")
    .filter((e) => e.jobId === jobId)
    .map((e) => e.status);
}
