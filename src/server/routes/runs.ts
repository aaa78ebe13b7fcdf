/**
 * Reading runs: the list (keyset pagination, newest first), one run with
 * its jobs and steps, its logs as text and its artifacts (listed, or one
 * streamed as the stored tar).
 */
import { Readable } from "node:stream";
import { z } from "zod";
import type { RunStatus } from "../../core/context.js";
import type { LogChunk, RunRecord, Store } from "../../store/store.js";
import { invalid, notFound } from "../errors.js";
import { route, type RouteDef } from "./route.js";
import { ArtifactSchema, LogsQuery, RunDetailSchema, RunListQuery, RunListSchema } from "./schemas.js";

export function runJson(run: RunRecord): Omit<RunRecord, "owner"> {
  const { owner: _owner, ...rest } = run;
  return rest;
}

export function encodeCursor(run: RunRecord): string {
  return Buffer.from(`${run.startedAt}:${run.id}`, "utf8").toString("base64url");
}

function decodeCursor(cursor: string): { startedAt: number; id: string } {
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const m = /^(\d+):(.+)$/.exec(text);
  if (!m) throw invalid(`cursor "${cursor}" is not one this API returned; pass the \`next\` value of the previous page`);
  return { startedAt: Number(m[1]), id: m[2] as string };
}

export async function getRun(store: Store, id: string): Promise<RunRecord> {
  const run = await store.runs.get(id);
  if (!run) throw notFound(`no run with id "${id}"`);
  return run;
}

export async function runDetail(store: Store, id: string): Promise<z.infer<typeof RunDetailSchema>> {
  const run = await getRun(store, id);
  const [jobs, steps, plan, state] = await Promise.all([
    store.jobs.list(id),
    store.jobs.steps(id),
    run.planHash ? store.plans.get(run.planHash) : undefined,
    store.queue.state(id),
  ]);
  const spec = state?.spec;
  return {
    ...runJson(run),
    inputs: plan?.inputs ?? null,
    source: spec ? { repo: spec.repo, commit: spec.commit ?? null, ref: spec.ref ?? null, trigger: { ...spec.trigger } } : null,
    jobs: jobs.map(({ runId: _r, jobHash: _h, inputsHash: _i, envHash: _e, position: _p, ...job }) => ({
      ...job,
      needs: [...job.needs],
      steps: steps.filter((s) => s.jobId === job.jobId).map(({ runId: _ri, jobId: _ji, ...s }) => s),
    })),
  };
}

function logText(chunk: LogChunk, header: boolean, stepName: string | undefined): string {
  const lines = chunk.lines.map((l) => `${l.line}\n`);
  if (!header) return lines.join("");
  const title = chunk.stepIndex === null ? "(job)" : `${chunk.stepIndex + 1}. ${stepName ?? "step"}`;
  return `── ${chunk.jobId} · ${title}\n${lines.join("")}`;
}

export const runRoutes: RouteDef[] = [
  route<undefined, z.infer<typeof RunListQuery>>({
    method: "get",
    path: "/api/v1/runs",
    auth: "viewer",
    tag: "runs",
    summary: "List runs, newest first (keyset pagination: pass `next` as `cursor`)",
    query: RunListQuery,
    response: RunListSchema,
    errors: [400],
    handler: async (c, { deps, query }) => {
      const limit = query.limit ?? 50;
      const runs = await deps.store.runs.list({
        ...(query.workflow ? { workflow: query.workflow } : {}),
        ...(query.status ? { status: query.status as RunStatus } : {}),
        ...(query.cursor ? { after: decodeCursor(query.cursor) } : {}),
        limit: limit + 1,
      });
      const page = runs.slice(0, limit);
      const last = page[page.length - 1];
      return c.json({ runs: page.map(runJson), next: runs.length > limit && last ? encodeCursor(last) : null });
    },
  }),
  route({
    method: "get",
    path: "/api/v1/runs/:id",
    auth: "viewer",
    tag: "runs",
    summary: "A run with its jobs and steps (status, attempts, where each ran, durations, reasons)",
    response: RunDetailSchema,
    errors: [404],
    handler: async (c, { deps, params }) => c.json(await runDetail(deps.store, params.id as string)),
  }),
  route<undefined, z.infer<typeof LogsQuery>>({
    method: "get",
    path: "/api/v1/runs/:id/logs",
    auth: "viewer",
    tag: "runs",
    summary: "The run's log lines as text (redacted when written), by job and step in plan order",
    query: LogsQuery,
    produces: "text",
    errors: [400, 404],
    handler: async (c, { deps, params, query }) => {
      const { store } = deps;
      const run = await getRun(store, params.id as string);
      const jobs = await store.jobs.list(run.id);
      const steps = await store.jobs.steps(run.id);
      if (query.job !== undefined && !jobs.some((j) => j.jobId === query.job))
        throw invalid(`job "${query.job}" is not in run ${run.id} (jobs: ${jobs.map((j) => j.jobId).join(", ") || "none"})`);
      let stepIndex: number | undefined;
      if (query.step !== undefined) {
        if (query.job === undefined) throw invalid("`step` needs `job`");
        const own = steps.filter((s) => s.jobId === query.job);
        const found = /^\d+$/.test(query.step)
          ? own.find((s) => s.stepIndex === Number(query.step) - 1)
          : own.find((s) => s.name === query.step);
        if (!found)
          throw invalid(
            `step "${query.step}" is not a step of job "${query.job}" (steps: ${own.map((s) => `${s.stepIndex + 1}. ${s.name}`).join(", ")})`,
          );
        stepIndex = found.stepIndex;
      }
      const names = new Map(steps.map((s) => [`${s.jobId}\u0000${s.stepIndex}`, s.name]));
      async function* text(): AsyncGenerator<Buffer> {
        const after: Record<string, number> = {};
        let last = "";
        for (;;) {
          const chunks = await store.logs.read({
            runId: run.id,
            after,
            limit: 500,
            ...(query.job !== undefined ? { jobId: query.job } : {}),
            ...(stepIndex !== undefined ? { stepIndex } : {}),
          });
          for (const chunk of chunks) {
            after[chunk.jobId] = chunk.seq;
            const section = `${chunk.jobId}\u0000${chunk.stepIndex ?? ""}`;
            yield Buffer.from(logText(chunk, stepIndex === undefined && section !== last, names.get(section)), "utf8");
            last = section;
          }
          if (chunks.length < 500) return;
        }
      }
      return new Response(Readable.toWeb(Readable.from(text())) as ReadableStream, {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    },
  }),
  route({
    method: "get",
    path: "/api/v1/runs/:id/artifacts",
    auth: "viewer",
    tag: "artifacts",
    summary: "The artifacts the run's jobs saved",
    response: z.object({ artifacts: z.array(ArtifactSchema) }),
    errors: [404],
    handler: async (c, { deps, params }) => {
      const run = await getRun(deps.store, params.id as string);
      const list = await deps.store.artifacts.list(run.id);
      return c.json({ artifacts: list.map(({ runId: _r, ...a }) => a) });
    },
  }),
  route<undefined, { job?: string }>({
    method: "get",
    path: "/api/v1/runs/:id/artifacts/:name",
    auth: "viewer",
    tag: "artifacts",
    summary: "One artifact as the stored tar, streamed (`job` chooses among matrix jobs that saved the same name)",
    query: z.object({ job: z.string().optional() }),
    produces: "tar",
    errors: [404, 409],
    handler: async (_c, { deps, params, query }) => {
      const run = await getRun(deps.store, params.id as string);
      const all = (await deps.store.artifacts.list(run.id)).filter((a) => a.name === params.name);
      const chosen = query.job === undefined ? all : all.filter((a) => a.jobId === query.job);
      if (chosen.length === 0)
        throw notFound(`run ${run.id} has no artifact "${params.name}"${query.job ? ` from job "${query.job}"` : ""}`);
      if (chosen.length > 1)
        throw invalid(`several jobs saved "${params.name}" (${chosen.map((a) => a.jobId).join(", ")}); choose one with ?job=`);
      const artifact = chosen[0] as (typeof chosen)[number];
      if (!(await deps.store.artifacts.blobs.has(artifact.hash)))
        throw notFound(`the content of artifact "${artifact.name}" is no longer stored (gc removed it)`);
      // Hash-checked: a modified blob ends the response before its last bytes (the client sees a short body).
      const body = await deps.store.artifacts.blobs.open(
        artifact.hash,
        `artifact "${artifact.name}" of ${artifact.jobId} in run ${run.id}`,
      );
      body.on("error", (error) => deps.logger?.error({ err: error }, "artifact download stopped"));
      return new Response(Readable.toWeb(body) as ReadableStream, {
        headers: {
          "content-type": "application/x-tar",
          "content-length": String(artifact.size),
          "content-disposition": `attachment; filename="${artifact.name.replace(/[^A-Za-z0-9._-]/g, "_")}.tar"`,
        },
      });
    },
  }),
];
