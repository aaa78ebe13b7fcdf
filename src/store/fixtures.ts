/**
 * Small hand-made plans and event sequences for the store's tests, the
 * conformance suite and the benchmark (no compiler needed).
 */
import type { EventBus } from "../core/events.js";
import { hashValue } from "../core/hash.js";
import type { Plan, PlanJob } from "../core/plan-types.js";

const RETRY = { attempts: 1, backoff: "constant", delayMs: 0, maxDelayMs: 0, jitter: 0 } as const;

export function samplePlanJob(id: string, options: { needs?: string[]; steps?: string[]; matrix?: Record<string, string> } = {}): PlanJob {
  const steps = (options.steps ?? ["step"]).map((name, index) => ({
    index,
    name,
    kind: "sh" as const,
    ref: `jobs.${id}.steps[${index}]`,
    run: `echo ${name}`,
    retry: RETRY,
    continueOnError: false,
    env: {},
    hash: hashValue({ id, name, index }),
  }));
  const body = {
    id,
    key: id.split(" ")[0] ?? id,
    name: id,
    matrix: options.matrix ?? {},
    needs: options.needs ?? [],
    if: { kind: "status", status: "success" } as const,
    executor: "local",
    steps,
    env: {},
    retry: RETRY,
    continueOnError: false,
    inputs: { artifacts: [] },
    outputs: { artifacts: [] },
    cache: false,
    caches: [],
    labels: [],
  };
  return { ...body, hash: hashValue(body) };
}

/** A plan with the given jobs (default: build -> test), workflow name `name`. */
export function samplePlan(
  name = "ci",
  jobs: PlanJob[] = [samplePlanJob("build", { steps: ["install", "compile"] }), samplePlanJob("test", { needs: ["build"] })],
): Plan {
  const body = {
    version: 1 as const,
    workflow: { name, file: `.gantry/${name}.ts`, triggers: { manual: true } },
    bundle: hashValue({ bundle: name }),
    env: [],
    executors: { local: { name: "local", kind: "local" as const, options: {}, hash: hashValue("local") } },
    jobs,
  };
  return { ...body, hash: hashValue(body) };
}

/**
 * Emit a whole successful run on `bus`: every job runs its steps, each step
 * prints `linesPerStep` lines. Timestamps start at `t0` and grow by 1 ms per event.
 */
export function emitSampleRun(
  bus: EventBus,
  runId: string,
  plan: Plan,
  options: { linesPerStep?: number; t0?: number; finish?: boolean } = {},
): void {
  let ts = options.t0 ?? 1_700_000_000_000;
  const t0 = ts;
  bus.emit("run.started", { runId, ts, plan, jobIds: plan.jobs.map((j) => j.id) });
  for (const job of plan.jobs) {
    const jobStart = ++ts;
    bus.emit("job.started", { runId, ts, jobId: job.id, attempt: 1, executor: job.executor });
    bus.emit("log", { runId, ts: ++ts, jobId: job.id, stream: "system", lines: [`setting up ${job.id}`] });
    for (const step of job.steps) {
      const stepStart = ++ts;
      bus.emit("step.started", { runId, ts, jobId: job.id, stepIndex: step.index, name: step.name, attempt: 1 });
      for (let i = 0; i < (options.linesPerStep ?? 3); i++) {
        bus.emit("log", {
          runId,
          ts: ++ts,
          jobId: job.id,
          stepIndex: step.index,
          stream: i % 5 === 4 ? "stderr" : "stdout",
          lines: [`${job.id}/${step.name} line ${i}`],
        });
      }
      bus.emit("step.finished", {
        runId,
        ts: ++ts,
        jobId: job.id,
        stepIndex: step.index,
        name: step.name,
        status: "success",
        attempts: 1,
        exitCode: 0,
        durationMs: ts - stepStart,
      });
    }
    bus.emit("job.finished", {
      runId,
      ts: ++ts,
      jobId: job.id,
      status: "success",
      attempts: 1,
      durationMs: ts - jobStart,
      outputs: { done: "yes" },
    });
  }
  if (options.finish !== false) bus.emit("run.finished", { runId, ts: ++ts, status: "success", durationMs: ts - t0 });
}
