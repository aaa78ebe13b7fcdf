/**
 * Queue cases of the queue conformance suite (`conformance.ts`): submit and
 * advance, claims and fencing, the reaper (leases in the past and in the
 * future, one sweep), quarantine and requeue, the leader lease, cancel.
 */
import { expect, it } from "vitest";
import type { GantryEvent } from "../../core/events.js";
import type { Plan, PlanJob } from "../../core/plan-types.js";
import { samplePlan, samplePlanJob } from "../fixtures.js";
import type { Store } from "../store.js";
import type { QueueCaseContext } from "./conformance.js";
import type { ClaimedJob, JobResult, NewServerRun } from "./types.js";

const OK: JobResult = { status: "success", attempts: 1, outputs: {}, durationMs: 5 };
const FAILED: JobResult = { status: "failure", attempts: 1, outputs: {}, durationMs: 5, reason: "exit 1" };

function serverRun(id: string, plan: Plan, extra: Partial<NewServerRun> = {}): NewServerRun {
  return {
    id,
    plan,
    spec: { repo: "default", bundleHash: plan.bundle, trigger: { kind: "api" } },
    failFast: false,
    trigger: "api",
    startedAt: 1000,
    ...extra,
  };
}

const always = (job: PlanJob): PlanJob => ({ ...job, if: { kind: "status", status: "always" } });

async function claimAll(store: Store, workerId = "w1", now = 2000, leaseMs = 30_000): Promise<ClaimedJob[]> {
  return store.queue.claim({ workerId, max: 100, leaseMs, now });
}

async function statuses(store: Store, runId: string): Promise<Record<string, string>> {
  return Object.fromEntries((await store.jobs.list(runId)).map((j) => [j.jobId, j.status]));
}

async function eventTypes(store: Store, runId: string): Promise<string[]> {
  const events = await store.queue.readEvents(runId, 0);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  return events.map((e) => ("jobId" in e.event ? `${e.event.type} ${e.event.jobId}` : e.event.type));
}

export function queueConformanceCases(current: () => QueueCaseContext): void {
  it("submit: the run, its jobs, run.started and the first ready jobs in one go; the same id twice is the first run", async () => {
    const { store } = current();
    const plan = samplePlan();
    const audit = { actor: "token:ci", action: "run.trigger", target: "r1" };
    expect(await store.queue.submit(serverRun("r1", plan), audit)).toEqual({ runId: "r1", created: true });
    expect(await store.queue.submit(serverRun("r1", plan), audit)).toEqual({ runId: "r1", created: false });
    expect((await store.audit.list()).entries).toHaveLength(1);
    expect(await statuses(store, "r1")).toEqual({ build: "queued", test: "queued" });
    expect((await store.queue.entries("r1")).map((e) => [e.jobId, e.state])).toEqual([["build", "available"]]);
    expect(await eventTypes(store, "r1")).toEqual(["run.started"]);
    expect((await store.runs.get("r1"))?.status).toBe("running");
  });

  it("finish advances the run: dependants queued, the run finished, events numbered with no gap", async () => {
    const { store } = current();
    await store.queue.submit(serverRun("r1", samplePlan()));
    const [build] = await claimAll(store);
    expect(build?.lease).toMatchObject({ jobId: "build", attempt: 1, workerId: "w1" });
    const started: GantryEvent = { type: "job.started", runId: "r1", ts: 2001, jobId: "build", attempt: 1, executor: "local" };
    const log: GantryEvent = { type: "log", runId: "r1", ts: 2002, jobId: "build", stepIndex: 0, stream: "stdout", lines: ["one", "two"] };
    expect(await store.queue.append(build!.lease, [started, log], 2003)).toEqual({ lastSeq: 3 });
    await store.queue.finish(build!.lease, OK, 2004);
    const [test] = await claimAll(store, "w2", 2005);
    expect(test?.lease.jobId).toBe("test");
    await store.queue.finish(test!.lease, OK, 2006);
    expect(await statuses(store, "r1")).toEqual({ build: "success", test: "success" });
    expect((await store.runs.get("r1"))?.status).toBe("success");
    expect(await eventTypes(store, "r1")).toEqual([
      "run.started",
      "job.started build",
      "log build",
      "job.finished build",
      "job.finished test",
      "run.finished",
    ]);
    const chunks = await store.logs.read({ runId: "r1", jobId: "build" });
    expect(chunks.flatMap((c) => c.lines.map((l) => l.line))).toEqual(["one", "two"]);
    expect(await claimAll(store, "w3", 2007)).toEqual([]);
  });

  it("a failure skips only what needs the failed job; fail-fast skips the rest", async () => {
    const { store } = current();
    const plan = samplePlan("ci", [
      samplePlanJob("a"),
      samplePlanJob("b", { needs: ["a"] }),
      samplePlanJob("c"),
      samplePlanJob("d", { needs: ["c"] }),
    ]);
    await store.queue.submit(serverRun("r1", plan));
    await store.queue.submit(serverRun("r2", plan, { failFast: true }));
    const claims = await claimAll(store);
    const of = (run: string, job: string) => claims.find((c) => c.lease.runId === run && c.lease.jobId === job)!.lease;
    await store.queue.finish(of("r1", "a"), FAILED, 2001);
    await store.queue.finish(of("r2", "a"), FAILED, 2001);
    await store.queue.finish(of("r1", "c"), OK, 2002);
    await store.queue.finish(of("r2", "c"), OK, 2002);
    const [d] = await claimAll(store, "w1", 2003);
    expect(d?.lease).toMatchObject({ runId: "r1", jobId: "d" });
    await store.queue.finish(d!.lease, OK, 2004);
    expect(await statuses(store, "r1")).toEqual({ a: "failure", b: "skipped", c: "success", d: "success" });
    expect(await statuses(store, "r2")).toEqual({ a: "failure", b: "skipped", c: "success", d: "skipped" });
    expect((await store.jobs.list("r2")).find((j) => j.jobId === "d")?.reason).toBe("an earlier job failed (fail-fast)");
    expect((await store.runs.get("r1"))?.status).toBe("failure");
  });

  it("fencing: a write of an attempt that lost its lease is refused and writes nothing", async () => {
    const { store } = current();
    await store.queue.submit(serverRun("r1", samplePlan()));
    const [first] = await claimAll(store, "w1", 2000, 1000);
    const log = (text: string): GantryEvent => ({ type: "log", runId: "r1", ts: 2100, jobId: "build", stream: "stdout", lines: [text] });
    // the lease expired: refused even before the reaper ran
    await expect(store.queue.append(first!.lease, [log("late")], 3001)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await expect(store.queue.heartbeat(first!.lease, 1000, 3001)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await store.queue.reap({ quarantineAfter: 3, now: 3001 });
    const [second] = await claimAll(store, "w2", 3002);
    expect(second?.lease.attempt).toBe(2);
    // the old attempt is fenced off for good, the new one writes
    await expect(store.queue.append(first!.lease, [log("stale")], 3003)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await expect(store.queue.finish(first!.lease, OK, 3003)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await store.queue.append(second!.lease, [log("fresh")], 3004);
    expect(await store.queue.heartbeat(second!.lease, 1000, 3005)).toEqual({ leaseExpiresAt: 4005, cancelRequested: false });
    const lines = (await store.logs.read({ runId: "r1" })).flatMap((c) => c.lines.map((l) => l.line));
    expect(lines).toEqual(["fresh"]);
    expect((await store.queue.attempts("r1")).map((a) => [a.attempt, a.workerId, a.outcome])).toEqual([
      [1, "w1", "lost"],
      [2, "w2", null],
    ]);
  });

  it("reaper: leases in the past and in the future, one sweep, only the expired are released", async () => {
    const { store } = current();
    const plan = samplePlan("ci", [samplePlanJob("a"), samplePlanJob("b"), samplePlanJob("c")]);
    await store.queue.submit(serverRun("r1", plan));
    const [a] = await store.queue.claim({ workerId: "w1", max: 1, leaseMs: 1000, now: 1000 }); // expires 2000
    const [b] = await store.queue.claim({ workerId: "w1", max: 1, leaseMs: 5000, now: 1000 }); // expires 6000
    const [c] = await store.queue.claim({ workerId: "w2", max: 1, leaseMs: 500, now: 1000 }); // expires 1500
    const result = await store.queue.reap({ quarantineAfter: 3, now: 3000 });
    expect([...result.requeued].sort()).toEqual([a!.lease.entry, c!.lease.entry].sort());
    expect(result.failed).toEqual([]);
    const entries = Object.fromEntries((await store.queue.entries("r1")).map((e) => [e.jobId, e]));
    expect(entries.a).toMatchObject({ state: "available", attempt: 1, lost: 1, workerId: null });
    expect(entries.c).toMatchObject({ state: "available", attempt: 1, lost: 1 });
    expect(entries.b).toMatchObject({ state: "claimed", attempt: 1, lost: 0, workerId: "w1", leaseExpiresAt: 6000 });
    expect(await store.queue.heartbeat(b!.lease, 5000, 3000)).toMatchObject({ leaseExpiresAt: 8000 });
    // a second sweep at the same time finds nothing
    expect(await store.queue.reap({ quarantineAfter: 3, now: 3000 })).toEqual({ requeued: [], failed: [], quarantined: [] });
  });

  it("reaper: without retry budget the job fails 'worker lost' and the run goes on", async () => {
    const { store } = current();
    await store.queue.submit(serverRun("r1", samplePlan(), { maxAttempts: 1 }));
    await store.queue.claim({ workerId: "w1", max: 1, leaseMs: 1000, now: 1000 });
    const result = await store.queue.reap({ quarantineAfter: 3, now: 5000 });
    expect(result.failed).toHaveLength(1);
    expect(await statuses(store, "r1")).toEqual({ build: "failure", test: "skipped" });
    expect((await store.jobs.list("r1"))[0]?.reason).toMatch(/^worker lost/);
    expect((await store.runs.get("r1"))?.status).toBe("failure");
    expect(await eventTypes(store, "r1")).toEqual(["run.started", "job.finished build", "job.finished test", "run.finished"]);
  });

  it("quarantine: an undecodable entry and a job that lost its worker 3 times, while the rest drains; requeue", async () => {
    const { store } = current();
    const plan = samplePlan("ci", [samplePlanJob("poison"), samplePlanJob("killer"), samplePlanJob("fine")]);
    await store.queue.submit(serverRun("r1", plan, { maxAttempts: 10 }));
    const poison = (await store.queue.entries("r1")).find((e) => e.jobId === "poison")!;
    await current().exec(`UPDATE queue_entries SET payload = '{not json' WHERE id = ${poison.entry}`);
    let now = 2000;
    let drained = false;
    for (let round = 1; round <= 3; round++) {
      const claims = await store.queue.claim({ workerId: `w${round}`, max: 10, leaseMs: 100, now });
      expect(claims.map((c) => c.lease.jobId)).not.toContain("poison");
      for (const c of claims) if (c.lease.jobId === "fine") await store.queue.finish(c.lease, OK, now + 1);
      drained ||= claims.some((c) => c.lease.jobId === "fine");
      now += 1000;
      await store.queue.reap({ quarantineAfter: 3, now });
    }
    expect(drained).toBe(true);
    const summary = await store.queue.summary();
    expect(summary.counts).toMatchObject({ quarantined: 2, done: 1, available: 0, claimed: 0 });
    const reasons = Object.fromEntries(summary.quarantined.map((e) => [e.jobId, e.reason]));
    expect(reasons.poison).toMatch(/^cannot decode the entry/);
    expect(reasons.killer).toBe("its worker was lost 3 times while running it (quarantined after 3)");
    const killer = summary.quarantined.find((e) => e.jobId === "killer")!;
    await store.queue.requeue(killer.entry, { actor: "token:op", action: "queue.requeue", target: killer.entry }, now);
    await expect(store.queue.requeue(killer.entry)).rejects.toMatchObject({ code: "NOT_FOUND" });
    const [again] = await store.queue.claim({ workerId: "w9", max: 10, leaseMs: 100, now });
    expect(again?.lease).toMatchObject({ jobId: "killer", attempt: 4 });
    expect((await store.audit.list()).entries.map((e) => e.action)).toEqual(["queue.requeue"]);
  });

  it("claims from two stores at once never hand out an entry twice", async () => {
    const { store, reopen } = current();
    // SQLite: a second connection in the SAME process would wait for the first one's write lock synchronously
    // (better-sqlite3 blocks the thread); several processes share it, tested by the crash tests. One store, four claimers.
    const other = store.kind === "postgres" ? await reopen() : store;
    const jobs = Array.from({ length: 40 }, (_, i) => samplePlanJob(`j${i}`));
    await store.queue.submit(serverRun("r1", samplePlan("ci", jobs)));
    const seen: string[] = [];
    await Promise.all(
      [store, other, store, other].map(async (s, i) => {
        for (;;) {
          const got = await s.queue.claim({ workerId: `w${i}`, max: 3, leaseMs: 60_000, now: 2000 });
          if (got.length === 0) return;
          for (const c of got) {
            seen.push(c.lease.jobId);
            await s.queue.finish(c.lease, OK, 2001);
          }
        }
      }),
    );
    expect([...seen].sort()).toEqual(jobs.map((j) => j.id).sort());
    expect((await store.runs.get("r1"))?.status).toBe("success");
  });

  it("leader lease: one holder at a time, taken over once it expired", async () => {
    const { store, reopen } = current();
    const other = await reopen();
    expect(await store.queue.acquireLeader("reaper", "a", 1000, 1000)).toBe(true);
    expect(await other.queue.acquireLeader("reaper", "b", 1000, 1500)).toBe(false);
    expect(await store.queue.acquireLeader("reaper", "a", 1000, 1900)).toBe(true); // renewed to 2900
    expect(await other.queue.acquireLeader("reaper", "b", 1000, 2500)).toBe(false);
    expect(await other.queue.acquireLeader("reaper", "b", 1000, 3000)).toBe(true);
    await other.queue.releaseLeader("reaper", "b");
    expect(await store.queue.acquireLeader("reaper", "a", 1000, 3001)).toBe(true);
  });

  it("cancel: queued jobs are skipped, always() jobs run after it, a running job hears it at its heartbeat", async () => {
    const { store } = current();
    const plan = samplePlan("ci", [
      samplePlanJob("slow"),
      samplePlanJob("waiting"),
      samplePlanJob("next", { needs: ["slow"] }),
      always(samplePlanJob("report", { needs: ["slow"] })),
    ]);
    await store.queue.submit(serverRun("r1", plan));
    const [slow] = await store.queue.claim({ workerId: "w1", max: 1, leaseMs: 10_000, now: 2000 });
    await store.queue.cancel("r1", { actor: "token:op", action: "run.cancel", target: "r1" }, 2100);
    expect(await store.queue.heartbeat(slow!.lease, 10_000, 2200)).toMatchObject({ cancelRequested: true });
    await store.queue.finish(
      slow!.lease,
      { status: "cancelled", attempts: 1, outputs: {}, durationMs: 200, reason: "the run was cancelled" },
      2300,
    );
    const [report] = await claimAll(store, "w2", 2400);
    expect(report?.lease.jobId).toBe("report");
    expect(report?.cancelRequested).toBe(true);
    await store.queue.finish(report!.lease, OK, 2500);
    expect(await statuses(store, "r1")).toEqual({ slow: "cancelled", waiting: "skipped", next: "skipped", report: "success" });
    expect((await store.runs.get("r1"))?.status).toBe("cancelled");
  });
}
