/**
 * The scheduler's decisions (core/schedule.ts), table-tested: the one state
 * machine that `gantry run` and the server's orchestrator both use.
 */
import { describe, expect, it } from "vitest";
import type { JobStatus } from "../../src/core/context.js";
import type { StatusConditionName } from "../../src/core/definition.js";
import { decideJob, failureFacts, finalRunStatus, readyDecisions, type RunView, type ScheduledJob } from "../../src/core/schedule.js";

const job = (id: string, needs: string[] = [], extra: Partial<ScheduledJob> & { cond?: StatusConditionName } = {}): ScheduledJob => ({
  id,
  key: extra.key ?? id,
  needs,
  if: { kind: "status", status: extra.cond ?? "success" },
  continueOnError: extra.continueOnError ?? false,
  ...(extra.failFast ? { failFast: true } : {}),
});

function view(
  jobs: ScheduledJob[],
  statuses: Record<string, JobStatus>,
  flags: Partial<Pick<RunView, "cancelled" | "forced" | "faulted" | "failFast">> = {},
): RunView {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const facts = failureFacts(jobs, (id) => statuses[id]);
  return {
    status: (id) => statuses[id],
    job: (id) => byId.get(id),
    cancelled: flags.cancelled ?? false,
    forced: flags.forced ?? false,
    faulted: flags.faulted ?? false,
    failFast: flags.failFast ?? false,
    failed: facts.failed,
    failedKeys: facts.failedKeys,
  };
}

const bad = job("bad");
const other = job("other");
const lint = job("lint");
const dependant = job("dependant", ["bad"]);
const soft = job("soft", [], { continueOnError: true });
const afterSoft = job("afterSoft", ["soft"]);
const grand = job("grand", ["dependant"], { cond: "failure" });
const always = job("always", ["bad"], { cond: "always" });
const onCancel = job("onCancel", ["other"], { cond: "cancelled" });
const afterOther = job("afterOther", ["other"]);
const all = [bad, other, lint, dependant, soft, afterSoft, grand, always, onCancel, afterOther];

type Row = [string, ScheduledJob, Record<string, JobStatus>, Parameters<typeof view>[2], ReturnType<typeof decideJob>];
const base: Record<string, JobStatus> = { bad: "failure", other: "success", soft: "failure", dependant: "skipped" };
const RUN = { run: true, afterCancel: false } as const;

const table: Row[] = [
  ["default: an independent job runs after a failure", lint, base, {}, RUN],
  ["default: a job that needs the failed one is skipped", dependant, base, {}, { run: false, reason: 'needs "bad", which failed' }],
  ["fail-fast: an independent job is skipped", lint, base, { failFast: true }, { run: false, reason: "an earlier job failed (fail-fast)" }],
  ["fail-fast: always() still runs", always, base, { failFast: true }, RUN],
  ["failure() looks at every ancestor", grand, base, {}, RUN],
  [
    "failure() does not hold when nothing failed",
    grand,
    { ...base, bad: "success", dependant: "success" },
    {},
    { run: false, reason: "condition failure() did not hold" },
  ],
  ["continueOnError: the failure counts as a success for dependants", afterSoft, base, {}, RUN],
  ["continueOnError: the failure does not trigger fail-fast", lint, { soft: "failure" }, { failFast: true }, RUN],
  ["a need timed out", dependant, { bad: "timed_out" }, {}, { run: false, reason: 'needs "bad", which timed out' }],
  ["a cached need counts as a success", dependant, { bad: "cached" }, {}, RUN],
  ["cancelled: a success() job is skipped", afterOther, base, { cancelled: true }, { run: false, reason: "the run was cancelled" }],
  ["cancelled: a cancelled() job runs after the cancel", onCancel, base, { cancelled: true }, { run: true, afterCancel: true }],
  ["cancelled: an always() job runs after the cancel", always, base, { cancelled: true }, { run: true, afterCancel: true }],
  ["not cancelled: a cancelled() job is skipped", onCancel, base, {}, { run: false, reason: "condition cancelled() did not hold" }],
  ["forced: even always() is skipped", always, base, { cancelled: true, forced: true }, { run: false, reason: "the run was cancelled" }],
  ["an engine fault skips everything", always, base, { faulted: true }, { run: false, reason: "the run stopped after an engine error" }],
  ["a need outside the run counts as skipped", job("x", ["nowhere"]), {}, {}, { run: false, reason: 'needs "nowhere", which was skipped' }],
];

describe("decideJob", () => {
  it.each(table)("%s", (_name, j, statuses, flags, expected) => {
    expect(decideJob(j, view(all, statuses, flags))).toEqual(expected);
  });

  it("matrix fail-fast skips the other combinations of that job only", () => {
    const a = job("test (n=1)", [], { key: "test", failFast: true });
    const b = job("test (n=2)", [], { key: "test", failFast: true });
    const c = job("build");
    const v = view([a, b, c], { "test (n=1)": "failure" });
    expect(decideJob(b, v)).toEqual({ run: false, reason: 'another "test" combination failed (fail-fast)' });
    expect(decideJob(c, v)).toEqual(RUN);
    // without failFast on the matrix, the siblings run
    const plain = job("test (n=2)", [], { key: "test" });
    expect(decideJob(plain, view([{ ...a, failFast: undefined }, plain], { "test (n=1)": "failure" }))).toEqual(RUN);
  });
});

describe("readyDecisions and finalRunStatus", () => {
  it("decides only queued jobs whose needs are final and that were not handed out", () => {
    const jobs = [job("a"), job("b", ["a"]), job("c", ["b"]), job("d")];
    const statuses: Record<string, JobStatus> = { a: "failure", b: "queued", c: "queued", d: "queued" };
    const out = readyDecisions(jobs, view(jobs, statuses), (id) => id === "d");
    expect(out.map((o) => [o.job.id, o.decision])).toEqual([["b", { run: false, reason: 'needs "a", which failed' }]]);
  });

  it("gives the run's status", () => {
    const jobs = [job("a"), job("b", [], { continueOnError: true })];
    expect(finalRunStatus(jobs, (id) => ({ a: "success", b: "failure" })[id] as JobStatus, { cancelled: false, faulted: false })).toBe(
      "success",
    );
    expect(finalRunStatus(jobs, () => "failure", { cancelled: false, faulted: false })).toBe("failure");
    expect(finalRunStatus(jobs, () => "cancelled", { cancelled: false, faulted: false })).toBe("cancelled");
    expect(finalRunStatus(jobs, () => "success", { cancelled: true, faulted: false })).toBe("cancelled");
    expect(finalRunStatus(jobs, () => "success", { cancelled: false, faulted: true })).toBe("failure");
  });
});
