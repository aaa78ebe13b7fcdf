/** Hand-made event sequences with fixed timestamps, shared by the reporter tests. */
import type { GantryEvent } from "../../src/core/events.js";
import type { Plan, PlanJob, PlanRetry } from "../../src/core/plan-types.js";

/** A timestamp at a fixed local wall-clock time (so `HH:MM:SS.mmm` is the same in every time zone). */
export function at(h: number, m: number, s: number, ms: number): number {
  return new Date(2024, 0, 2, h, m, s, ms).getTime();
}

export const T0 = at(10, 0, 0, 0);

const retry = (attempts: number): PlanRetry => ({ attempts, backoff: "constant", delayMs: 400, maxDelayMs: 400, jitter: 0 });

export interface JobSpec {
  readonly id: string;
  readonly steps: readonly string[];
  readonly attempts?: number;
  readonly stepAttempts?: number;
}

export function makePlan(name: string, jobs: readonly JobSpec[]): Plan {
  return {
    version: 1,
    workflow: { name, file: `.gantry/${name}.ts`, triggers: { manual: true } },
    bundle: "b".repeat(64),
    env: [],
    executors: { local: { name: "local", kind: "local", options: {}, hash: "e".repeat(64) } },
    jobs: jobs.map((j): PlanJob => ({
      id: j.id,
      key: j.id,
      name: j.id,
      matrix: {},
      needs: [],
      if: { kind: "status", status: "success" },
      executor: "local",
      steps: j.steps.map((s, index) => ({
        index,
        name: s,
        kind: "sh",
        ref: `jobs.${j.id}.steps[${index}]`,
        run: s,
        retry: retry(j.stepAttempts ?? 1),
        continueOnError: false,
        env: {},
        hash: "s".repeat(64),
      })),
      env: {},
      retry: retry(j.attempts ?? 1),
      continueOnError: false,
      inputs: { artifacts: [] },
      outputs: { artifacts: [] },
      cache: false,
      caches: [],
      labels: [],
      hash: "j".repeat(64),
    })),
    hash: "0123456789abcdef".repeat(4),
  };
}

type Payload<K extends GantryEvent["type"]> = Omit<Extract<GantryEvent, { type: K }>, "type" | "runId" | "ts">;

/** Build events of run `r1` with `ts = T0 + dt`. */
export function ev<K extends GantryEvent["type"]>(type: K, dt: number, payload: Payload<K>): GantryEvent {
  return { type, runId: "r1", ts: T0 + dt, ...payload } as unknown as GantryEvent;
}

export const PLAN = makePlan("ci", [
  { id: "build", steps: ["npm ci", "npm run build"] },
  { id: "test", steps: ["npm test"], stepAttempts: 3 },
  { id: "deploy", steps: ["./deploy.sh"] },
]);

export const TAIL = Array.from({ length: 25 }, (_, i) => `line ${i + 1}`);

/** build succeeds, test fails after a step retry (25 output lines), deploy is skipped. */
export function scenario(): GantryEvent[] {
  return [
    ev("run.started", 0, { plan: PLAN, jobIds: ["build", "test", "deploy"] }),
    ev("executor.setup", 120, { executor: "local", durationMs: 120 }),
    ev("job.started", 130, { jobId: "build", attempt: 1, executor: "local" }),
    ev("step.started", 140, { jobId: "build", stepIndex: 0, name: "npm ci", attempt: 1 }),
    ev("log", 150, { jobId: "build", stepIndex: 0, stream: "stdout", lines: ["added 12 packages"] }),
    ev("step.finished", 1140, {
      jobId: "build",
      stepIndex: 0,
      name: "npm ci",
      status: "success",
      attempts: 1,
      exitCode: 0,
      durationMs: 1000,
    }),
    ev("step.started", 1150, { jobId: "build", stepIndex: 1, name: "npm run build", attempt: 1 }),
    ev("log", 1200, { jobId: "build", stepIndex: 1, stream: "stdout", lines: ["built dist"] }),
    ev("step.finished", 1250, {
      jobId: "build",
      stepIndex: 1,
      name: "npm run build",
      status: "success",
      attempts: 1,
      exitCode: 0,
      durationMs: 100,
    }),
    ev("artifact.saved", 1260, { jobId: "build", name: "dist", hash: "ab".repeat(32), size: 2048 }),
    ev("job.finished", 1260, { jobId: "build", status: "success", attempts: 1, durationMs: 1130, outputs: {} }),
    ev("job.started", 1300, { jobId: "test", attempt: 1, executor: "local" }),
    ev("artifact.restored", 1310, { jobId: "test", name: "dist", path: "dist/", hash: "ab".repeat(32) }),
    ev("step.started", 1320, { jobId: "test", stepIndex: 0, name: "npm test", attempt: 1 }),
    ev("log", 1400, { jobId: "test", stepIndex: 0, stream: "stderr", lines: ["FAIL a.test.js (first attempt)"] }),
    ev("step.retry", 1500, { jobId: "test", stepIndex: 0, attempt: 2, delayMs: 400, reason: "exit code 1" }),
    ev("step.started", 1900, { jobId: "test", stepIndex: 0, name: "npm test", attempt: 2 }),
    ...TAIL.map((line, i) => ev("log", 2000 + i, { jobId: "test", stepIndex: 0, stream: "stdout", lines: [line] })),
    ev("step.finished", 3000, {
      jobId: "test",
      stepIndex: 0,
      name: "npm test",
      status: "failure",
      attempts: 2,
      exitCode: 1,
      durationMs: 1100,
      reason: "exit code 1",
    }),
    ev("job.finished", 3000, {
      jobId: "test",
      status: "failure",
      attempts: 1,
      durationMs: 1700,
      outputs: {},
      reason: 'step "npm test" failed',
    }),
    ev("job.finished", 3010, {
      jobId: "deploy",
      status: "skipped",
      attempts: 0,
      durationMs: 0,
      outputs: {},
      reason: "condition success() is false",
    }),
    ev("executor.cleanup", 3040, { executor: "local", durationMs: 30 }),
    ev("run.finished", 3050, { status: "failure", durationMs: 3050 }),
  ];
}

/** Collects what a reporter writes. */
export class Collector {
  chunks: string[] = [];
  columns?: number;
  rows?: number;
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  get text(): string {
    return this.chunks.join("");
  }
}

export const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
