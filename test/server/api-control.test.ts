/**
 * Changing runs through the API on a real SQLite store (`app.request()`):
 * trigger pins a commit and queues the run, cancel, rerun `failed`, the
 * queue, and the SSE stream of a run: a dropped connection resumed with
 * Last-Event-ID gets every event exactly once, in order; the stream ends
 * after run.finished. Jobs are driven through the real worker interface
 * (`createStoreSource`). One audit row per change, none for refusals.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GantryEvent } from "../../src/core/events.js";
import { createStoreSource } from "../../src/queue/store-source.js";
import type { WorkSource } from "../../src/queue/worker.js";
import { CI_WORKFLOW, makeRepo, sh } from "./git-fixtures.js";
import { testApp, type TestApp } from "./helpers.js";

let t: TestApp;
let remote: string;
let source: WorkSource;

beforeAll(async () => {
  remote = join(mkdtempSync(join(tmpdir(), "gantry-ctl-")), "app");
  makeRepo(remote, { ".gantry/ci.ts": CI_WORKFLOW, "examples/other.ts": CI_WORKFLOW.replace('name: "ci"', 'name: "other"') });
  t = await testApp({ repos: [{ name: "app", source: remote }] });
  source = createStoreSource(t.store, { pollMs: 20 });
});
afterAll(async () => {
  await t?.close();
  if (remote) rmSync(join(remote, ".."), { recursive: true, force: true });
});

interface Sse {
  id: number;
  event: string;
  data: GantryEvent;
}

function parseSse(text: string): { events: Sse[]; comments: number } {
  const events: Sse[] = [];
  let comments = 0;
  for (const block of text.split("\n\n")) {
    if (!block.trim()) continue;
    if (block.startsWith(":")) {
      comments += 1;
      continue;
    }
    const f: Record<string, string> = {};
    for (const line of block.split("\n")) {
      const i = line.indexOf(":");
      f[line.slice(0, i)] = line.slice(i + 1).trimStart();
    }
    events.push({ id: Number(f.id), event: f.event as string, data: JSON.parse(f.data as string) as GantryEvent });
  }
  return { events, comments };
}

/** Read an SSE response until it ends, or until `stopAfter` events were read (then drop the connection). */
async function readSse(res: Response, stopAfter?: number): Promise<Sse[]> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const complete = text.slice(0, text.lastIndexOf("\n\n") + 2);
    if (stopAfter !== undefined && parseSse(complete).events.length >= stopAfter) {
      await reader.cancel();
      return parseSse(complete).events.slice(0, stopAfter);
    }
  }
  return parseSse(text).events;
}

async function audits(): Promise<{ action: string; target: string }[]> {
  return (await t.store.audit.list({ limit: 1000 })).entries.map((e) => ({ action: e.action, target: e.target }));
}

async function trigger(
  body: Record<string, unknown> = {},
  workflow = "ci",
): Promise<{ id: string; status: string; jobs: { jobId: string; status: string }[] }> {
  const res = await t.call(`/api/v1/repos/app/workflows/${workflow}/runs`, {
    method: "POST",
    body: JSON.stringify(body),
    token: t.tokens.operator,
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string; status: string; jobs: { jobId: string; status: string }[] };
}

/** Claim the next job and finish it with `status`, with one log line. */
async function work(status: "success" | "failure"): Promise<string> {
  const [item] = await source.claim({ workerId: "test-worker", max: 1, waitMs: 5000 });
  if (!item) throw new Error("nothing to claim");
  const { runId, jobId } = item.lease;
  await source.append(item.lease, [
    { type: "job.started", runId, ts: Date.now(), jobId, attempt: 1, executor: "local" },
    { type: "log", runId, ts: Date.now(), jobId, stream: "stdout", lines: [`${jobId} says hi`] },
  ]);
  await source.finish(item.lease, { status, attempts: 1, outputs: {}, durationMs: 1 });
  return jobId;
}

describe("trigger", () => {
  it("pins the default branch's commit and queues the run; one audit row", async () => {
    const before = (await audits()).length;
    const run = await trigger();
    expect(run.status).toBe("running");
    expect(run.jobs.map((j) => j.jobId)).toEqual(["build", "test"]);
    const after = await audits();
    expect(after.length).toBe(before + 1);
    expect(after[0]?.action).toBe("run.trigger");
    const state = await t.store.queue.state(run.id);
    expect(state?.spec).toMatchObject({ repo: "app", ref: "main", commit: sh(remote, "rev-parse", "HEAD"), trigger: { kind: "api" } });
    expect(await t.store.artifacts.blobPath(state?.spec.snapshot as string)).toBeDefined();
    expect(await t.store.plans.getBundle(state?.spec.bundleHash as string)).toContain("build");
    // a workflow outside .gantry/ by file
    const other = await trigger({ file: "examples/other.ts" }, "other");
    expect(other.status).toBe("running");
    await t.call(`/api/v1/runs/${run.id}/cancel`, { method: "POST" });
    await t.call(`/api/v1/runs/${other.id}/cancel`, { method: "POST" });
  });

  it("refuses unknown repos, workflows, refs and bad bodies with one sentence, and audits nothing", async () => {
    const before = (await audits()).length;
    const post = (path: string, body: unknown) => t.call(path, { method: "POST", body: JSON.stringify(body) });
    const cases: [Response, number, RegExp][] = [
      [await post("/api/v1/repos/nope/workflows/ci/runs", {}), 404, /no repository named "nope"/],
      [await post("/api/v1/repos/app/workflows/nope/runs", {}), 400, /no workflow named "nope"/],
      [await post("/api/v1/repos/app/workflows/ci/runs", { ref: "no-such-branch" }), 400, /has no branch, tag or commit "no-such-branch"/],
      [await post("/api/v1/repos/app/workflows/ci/runs", { refs: "main" }), 400, /body/],
      [await post("/api/v1/repos/app/workflows/ci/runs", { env: { "1BAD": "x" } }), 400, /body field "env/],
    ];
    for (const [res, status, message] of cases) {
      expect(res.status).toBe(status);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    }
    expect((await audits()).length).toBe(before);
  });
});

describe("SSE", () => {
  it("streams every event once, in order, across a dropped connection, and ends after run.finished", async () => {
    const run = await trigger();
    const first = await readSse(await t.call(`/api/v1/runs/${run.id}/events`, { token: t.tokens.viewer }), 1);
    expect(first.map((e) => [e.id, e.event])).toEqual([[1, "run.started"]]);
    // While the client is away the run goes on.
    await work("success");
    // Reconnect with Last-Event-ID, read a bit, drop again.
    const second = await readSse(await t.call(`/api/v1/runs/${run.id}/events`, { headers: { "last-event-id": "1" } }), 2);
    expect(second[0]?.id).toBe(2);
    // Reconnect, and finish the run while this stream is open: it ends by itself after run.finished.
    const res = await t.call(`/api/v1/runs/${run.id}/events`, { headers: { "last-event-id": String(second[1]?.id) } });
    const rest = readSse(res);
    await work("success");
    const third = await rest;
    const all = [...first, ...second, ...third];
    expect(all.map((e) => e.id)).toEqual(all.map((_, i) => i + 1));
    expect(all[all.length - 1]?.event).toBe("run.finished");
    const stored = await t.deps.events.read(run.id, 0, 1000);
    expect(all.map((e) => e.data)).toEqual(stored.map((s) => s.event));
    expect(all.some((e) => e.event === "log")).toBe(true);
    // A finished run's stream replays and ends.
    expect((await readSse(await t.call(`/api/v1/runs/${run.id}/events`))).length).toBe(all.length);
    expect((await t.call(`/api/v1/runs/${run.id}/events`, { headers: { "last-event-id": "x" } })).status).toBe(400);
  });

  it("sends a comment ping while nothing happens", async () => {
    const quiet = await testApp({ repos: [{ name: "app", source: remote }], extra: { ssePingMs: 30 } });
    try {
      const res = await quiet.call("/api/v1/repos/app/workflows/ci/runs", { method: "POST", body: "{}" });
      const { id } = (await res.json()) as { id: string };
      const stream = await quiet.call(`/api/v1/runs/${id}/events`, { headers: { "last-event-id": "1" } });
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toBe(": ping\n\n");
      await reader.cancel();
    } finally {
      await quiet.close();
    }
  });
});

describe("cancel, rerun, queue", () => {
  it("cancels a running run (one audit row), refuses to cancel it again", async () => {
    const run = await trigger();
    const before = (await audits()).length;
    const res = await t.call(`/api/v1/runs/${run.id}/cancel`, { method: "POST", token: t.tokens.operator });
    expect(res.status).toBe(202);
    const detail = (await (await t.call(`/api/v1/runs/${run.id}`)).json()) as { status: string; jobs: { status: string }[] };
    expect(detail.status).toBe("cancelled");
    for (const job of detail.jobs) expect(["cancelled", "skipped"]).toContain(job.status);
    expect((await audits())[0]).toEqual({ action: "run.cancel", target: run.id });
    expect((await audits()).length).toBe(before + 1);
    const again = await t.call(`/api/v1/runs/${run.id}/cancel`, { method: "POST" });
    expect(again.status).toBe(400);
    expect((await audits()).length).toBe(before + 1);
  });

  it("reruns only what failed, as a new run with the same commit; one audit row", async () => {
    const run = await trigger();
    expect(await work("failure")).toBe("build");
    const failed = (await (await t.call(`/api/v1/runs/${run.id}`)).json()) as { status: string; jobs: { jobId: string; status: string }[] };
    expect(failed.status).toBe("failure");
    const before = (await audits()).length;
    const res = await t.call(`/api/v1/runs/${run.id}/rerun`, {
      method: "POST",
      body: JSON.stringify({ failed: true }),
      token: t.tokens.operator,
    });
    expect(res.status).toBe(201);
    const rerun = (await res.json()) as { id: string; parentRunId: string; trigger: string; jobs: { jobId: string }[] };
    expect(rerun.parentRunId).toBe(run.id);
    expect(rerun.id).not.toBe(run.id);
    expect((await audits())[0]).toEqual({ action: "run.rerun", target: run.id });
    expect((await audits()).length).toBe(before + 1);
    expect((await t.store.queue.state(rerun.id))?.spec.commit).toBe((await t.store.queue.state(run.id))?.spec.commit);
    await t.call(`/api/v1/runs/${rerun.id}/cancel`, { method: "POST" });
  });

  it("shows the queue; requeue of an unknown entry is a 404 without an audit row", async () => {
    const queue = (await (await t.call("/api/v1/queue", { token: t.tokens.viewer })).json()) as {
      counts: Record<string, number>;
      quarantined: unknown[];
    };
    expect(queue.quarantined).toEqual([]);
    expect(typeof queue.counts).toBe("object");
    const before = (await audits()).length;
    const res = await t.call("/api/v1/queue/nope/requeue", { method: "POST", token: t.tokens.operator });
    expect(res.status).toBe(404);
    expect((await audits()).length).toBe(before);
  });
});
