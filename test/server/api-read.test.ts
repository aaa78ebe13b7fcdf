/**
 * The read routes on a real SQLite store through `app.request()`: runs with
 * keyset pagination (no run twice, none skipped, also with equal start
 * times), one run with jobs and steps, logs as text, artifacts listed and
 * streamed; tokens and the audit trail: one row per change, in the same
 * transaction. Errors are `{ error: { code, message } }`.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventBus } from "../../src/core/events.js";
import { emitSampleRun, samplePlan } from "../../src/store/fixtures.js";
import { createStoreWriter } from "../../src/store/writer.js";
import { testApp, type TestApp } from "./helpers.js";

let t: TestApp;
const plan = samplePlan("ci");
const tarBytes = Buffer.from("pretend this is a tar of dist/");
const tarHash = createHash("sha256").update(tarBytes).digest("hex");

beforeAll(async () => {
  t = await testApp();
  const blob = join(t.dir, "dist.tar");
  writeFileSync(blob, tarBytes);
  const bus = new EventBus();
  const writer = createStoreWriter(t.store, { blobPath: () => blob, bundleCode: () => "export default {};" });
  bus.subscribe(writer.onEvent);
  emitSampleRun(bus, "run-with-logs", plan, { t0: 2_000_000_000_000 });
  bus.emit("artifact.saved", { runId: "run-with-logs", jobId: "build", name: "dist", hash: tarHash, size: tarBytes.length });
  await writer.close();
  // 25 more runs, several with the same start time, to page through.
  const ops = [];
  for (let i = 0; i < 25; i++)
    ops.push({
      op: "run" as const,
      run: {
        id: `r${String(i).padStart(2, "0")}`,
        workflow: i % 2 ? "odd" : "even",
        file: "f.ts",
        trigger: "api",
        planHash: null,
        startedAt: 1_000 + Math.floor(i / 3),
        owner: null,
      },
    });
  await t.store.write(ops);
});
afterAll(async () => t?.close());

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

describe("runs", () => {
  it("pages newest first with a cursor: every run once, none skipped", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await t.call(`/api/v1/runs?limit=4${cursor ? `&cursor=${cursor}` : ""}`, { token: t.tokens.viewer });
      expect(res.status).toBe(200);
      const body = await json<{ runs: { id: string }[]; next: string | null }>(res);
      seen.push(...body.runs.map((r) => r.id));
      cursor = body.next;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(7);
    expect(seen.length).toBe(26);
    expect(new Set(seen).size).toBe(26);
    expect(seen[0]).toBe("run-with-logs");
    const all = await t.store.runs.list({ limit: 100 });
    expect(seen).toEqual(all.map((r) => r.id));
  });

  it("filters by workflow and status; a bad cursor or limit is a 400 naming it", async () => {
    const odd = await json<{ runs: { workflow: string }[] }>(await t.call("/api/v1/runs?workflow=odd&limit=100"));
    expect(odd.runs.length).toBe(12);
    expect(odd.runs.every((r) => r.workflow === "odd")).toBe(true);
    const ok = await json<{ runs: unknown[] }>(await t.call("/api/v1/runs?status=success"));
    expect(ok.runs.length).toBe(1);
    const bad = await t.call("/api/v1/runs?cursor=zzz");
    expect(bad.status).toBe(400);
    expect((await json<{ error: { code: string; message: string } }>(bad)).error.message).toMatch(/cursor "zzz"/);
    const limit = await t.call("/api/v1/runs?limit=0");
    expect(limit.status).toBe(400);
    expect((await json<{ error: { message: string } }>(limit)).error.message).toMatch(/query field "limit"/);
  });

  it("shows one run with its jobs and steps; 404 for an unknown one", async () => {
    const run = await json<{ id: string; status: string; jobs: { jobId: string; steps: { name: string; status: string }[] }[] }>(
      await t.call("/api/v1/runs/run-with-logs"),
    );
    expect(run.status).toBe("success");
    expect(run.jobs.map((j) => j.jobId)).toEqual(["build", "test"]);
    expect(run.jobs[0]?.steps.map((s) => s.name)).toEqual(["install", "compile"]);
    const missing = await t.call("/api/v1/runs/nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: "not_found", message: 'no run with id "nope"' } });
  });

  it("serves logs as text, for the run, a job and a step", async () => {
    const all = await (await t.call("/api/v1/runs/run-with-logs/logs")).text();
    expect(all).toContain("── build · 1. install\nbuild/install line 0\n");
    expect(all).toContain("test/");
    const job = await (await t.call("/api/v1/runs/run-with-logs/logs?job=test")).text();
    expect(job).not.toContain("build/");
    const step = await (await t.call("/api/v1/runs/run-with-logs/logs?job=build&step=2")).text();
    expect(step).toBe("build/compile line 0\nbuild/compile line 1\nbuild/compile line 2\n");
    const bad = await t.call("/api/v1/runs/run-with-logs/logs?job=nope");
    expect(bad.status).toBe(400);
  });

  it("lists artifacts and streams one as the stored tar", async () => {
    const list = await json<{ artifacts: { name: string; size: number }[] }>(await t.call("/api/v1/runs/run-with-logs/artifacts"));
    expect(list.artifacts).toMatchObject([{ name: "dist", size: tarBytes.length }]);
    const res = await t.call("/api/v1/runs/run-with-logs/artifacts/dist");
    expect(res.headers.get("content-type")).toBe("application/x-tar");
    expect(Buffer.from(await res.arrayBuffer())).toEqual(tarBytes);
    expect((await t.call("/api/v1/runs/run-with-logs/artifacts/other")).status).toBe(404);
  });
});

describe("tokens and audit", () => {
  it("creating and revoking a token write one audit row each; the new token works until revoked", async () => {
    const before = (await t.store.audit.list({ limit: 1000 })).entries.length;
    const res = await t.call("/api/v1/tokens", { method: "POST", body: JSON.stringify({ name: "ci", role: "operator", expires: "30d" }) });
    expect(res.status).toBe(201);
    const created = await json<{ token: string; record: { id: string; role: string; expiresAt: number } }>(res);
    expect(created.token).toMatch(/^gantry_[A-Za-z0-9_-]{43}$/);
    expect(created.record.role).toBe("operator");
    expect((await t.call("/api/v1/runs", { token: created.token })).status).toBe(200);
    const listed = await json<{ tokens: Record<string, unknown>[] }>(await t.call("/api/v1/tokens"));
    expect(JSON.stringify(listed)).not.toContain(created.token);
    expect(JSON.stringify(listed)).not.toMatch(/"hash"/);
    expect((await t.call(`/api/v1/tokens/${created.record.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await t.call(`/api/v1/tokens/${created.record.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await t.call("/api/v1/runs", { token: created.token })).status).toBe(401);
    const audit = await json<{ entries: { action: string; target: string }[] }>(await t.call("/api/v1/audit?limit=1000"));
    expect(audit.entries.length).toBe(before + 2);
    expect(audit.entries.slice(0, 2).map((e) => [e.action, e.target])).toEqual([
      ["token.revoke", created.record.id],
      ["token.create", created.record.id],
    ]);
  });

  it("refuses bad bodies with a 400 naming the field, and writes nothing", async () => {
    const before = (await t.store.audit.list({ limit: 1000 })).entries.length;
    const res = await t.call("/api/v1/tokens", { method: "POST", body: JSON.stringify({ name: "x", role: "root" }) });
    expect(res.status).toBe(400);
    expect((await json<{ error: { message: string } }>(res)).error.message).toMatch(/body field "role"/);
    const notJson = await t.call("/api/v1/tokens", { method: "POST", body: "{" });
    expect(notJson.status).toBe(400);
    const expires = await t.call("/api/v1/tokens", {
      method: "POST",
      body: JSON.stringify({ name: "x", role: "viewer", expires: "soon" }),
    });
    expect((await json<{ error: { message: string } }>(expires)).error.message).toMatch(/^expires: /);
    expect((await t.store.audit.list({ limit: 1000 })).entries.length).toBe(before);
  });

  it("limits the body size and sends no CORS headers unless configured", async () => {
    const big = await t.call("/api/v1/tokens", {
      method: "POST",
      body: JSON.stringify({ name: "x".repeat(2 * 1024 * 1024), role: "viewer" }),
      headers: { "content-type": "application/json" },
    });
    expect(big.status).toBe(413);
    expect((await json<{ error: { code: string } }>(big)).error.code).toBe("payload_too_large");
    const res = await t.call("/api/v1/runs", { headers: { origin: "https://evil.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("operations", () => {
  it("healthz and readyz need no token; metrics needs one", async () => {
    expect(await json(await t.call("/healthz", { token: null }))).toEqual({ ok: true });
    expect(await json(await t.call("/readyz", { token: null }))).toMatchObject({ ok: true, store: "sqlite" });
    expect((await t.call("/metrics", { token: null })).status).toBe(401);
    const text = await (await t.call("/metrics", { token: t.tokens.viewer })).text();
    expect(text).toContain("gantry_http_request_duration_seconds_bucket");
    expect(text).toMatch(/gantry_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/runs\/:id",status="(200|404)"\}/);
  });
});
