/**
 * Changing runs: trigger (pin a commit, compile, store the bundle and the
 * snapshot, submit), cancel, rerun, the queue and requeue, and the run's
 * live events (SSE). Each change goes through the orchestrator with its
 * audit entry, written in the same transaction.
 */
import { z } from "zod";
import { GantryError } from "../../core/errors.js";
import { invalid, notFound } from "../errors.js";
import { streamRunEvents } from "../sse.js";
import { selectTreeWorkflow } from "../workflows.js";
import { repoOf } from "./repos.js";
import { actorOf, route, type RouteDef } from "./route.js";
import { getRun, runDetail } from "./runs.js";
import { RunDetailSchema } from "./schemas.js";
import { apiSchemas } from "./schemas.js";

const TriggerBody = z
  .object({
    ref: z.string().min(1).optional().describe("branch, tag or commit (default: the default branch)"),
    inputs: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "the workflow's typed inputs (see its `inputs` schema in GET /repos/{repo}/workflows); strings are converted by that schema",
      ),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
    file: z.string().min(1).optional().describe("the workflow file when it is not in .gantry/"),
  })
  .strict();

const QueueSchema = z
  .object({
    counts: z.record(z.string(), z.number().int()),
    quarantined: z.array(z.object({ entry: z.string(), runId: z.string(), jobId: z.string(), reason: z.string(), at: z.number().int() })),
  })
  .register(apiSchemas, { id: "Queue" });

export const controlRoutes: RouteDef[] = [
  route<z.infer<typeof TriggerBody>>({
    method: "post",
    path: "/api/v1/repos/:repo/workflows/:workflow/runs",
    auth: "operator",
    tag: "runs",
    summary: "Trigger a run: the ref is resolved to a commit, the workflow compiled from it, the run queued",
    body: TriggerBody,
    status: 201,
    response: RunDetailSchema,
    errors: [400, 404],
    handler: async (c, input) => {
      const { deps, params, body } = input;
      const repo = repoOf(deps, params.repo as string);
      const tree = await deps.repos.checkout(await deps.repos.resolve(repo, body.ref));
      const { loaded, plan } = await selectTreeWorkflow(tree.dir, deps.stateDir, params.workflow as string, body.file, body.inputs ?? {});
      await deps.store.plans.putBundle(loaded.bundleHash, loaded.source);
      const { runId } = await deps.orchestrator.submit(
        {
          repo,
          workflow: plan.workflow.name,
          file: loaded.file,
          plan,
          bundleHash: loaded.bundleHash,
          snapshot: tree.snapshot,
          commit: tree.commit,
          ref: tree.ref,
          trigger: { kind: "api", by: actorOf(input) },
          ...(plan.inputs ? { inputs: plan.inputs } : {}),
          ...(body.env ? { env: body.env } : {}),
        },
        { actor: actorOf(input), action: "run.trigger", target: "", detail: { repo, workflow: plan.workflow.name, commit: tree.commit } },
      );
      return c.json(await runDetail(deps.store, runId), 201);
    },
  }),
  route({
    method: "post",
    path: "/api/v1/runs/:id/cancel",
    auth: "operator",
    tag: "runs",
    summary: "Cancel a run: queued jobs end cancelled, running ones are stopped",
    status: 202,
    response: z.object({ id: z.string(), cancelled: z.literal(true) }),
    errors: [404, 409],
    handler: async (c, input) => {
      const run = await getRun(input.deps.store, input.params.id as string);
      if (run.status !== "running") throw invalid(`run ${run.id} already finished (${run.status}); only a running run can be cancelled`);
      await input.deps.orchestrator.cancel(run.id, { actor: actorOf(input), action: "run.cancel", target: run.id });
      return c.json({ id: run.id, cancelled: true as const }, 202);
    },
  }),
  route<{ failed?: boolean }>({
    method: "post",
    path: "/api/v1/runs/:id/rerun",
    auth: "operator",
    tag: "runs",
    summary: "Run a finished run again with the same commit, plan and inputs; `failed`: only what failed and what needs it",
    body: z.object({ failed: z.boolean().optional() }).strict(),
    status: 201,
    response: RunDetailSchema,
    errors: [404],
    handler: async (c, input) => {
      const run = await getRun(input.deps.store, input.params.id as string);
      const failed = input.body.failed === true;
      const { runId } = await input.deps.orchestrator.rerun(
        run.id,
        { failed },
        {
          actor: actorOf(input),
          action: "run.rerun",
          target: run.id,
          detail: { failed },
        },
      );
      return c.json(await runDetail(input.deps.store, runId), 201);
    },
  }),
  route<undefined, { after?: string }>({
    method: "get",
    path: "/api/v1/runs/:id/events",
    auth: "viewer",
    tag: "runs",
    summary: "The run's events as Server-Sent Events (`id:` = per-run sequence; resume with Last-Event-ID); ends after run.finished",
    query: z.object({ after: z.string().regex(/^\d+$/).optional().describe("like Last-Event-ID") }),
    produces: "sse",
    errors: [400, 404],
    handler: async (c, { deps, params, query }) => {
      const run = await getRun(deps.store, params.id as string);
      if (!(await deps.store.queue.state(run.id)))
        throw notFound(`run ${run.id} was not run by a server: it has no event stream (read its logs)`);
      const last = c.req.header("last-event-id") ?? query.after ?? "0";
      if (!/^\d+$/.test(last)) throw invalid(`Last-Event-ID "${last}" is not an event id of this stream`);
      return streamRunEvents(c, {
        events: deps.events,
        runId: run.id,
        after: Number(last),
        ...(deps.ssePingMs ? { pingMs: deps.ssePingMs } : {}),
      });
    },
  }),
  route({
    method: "get",
    path: "/api/v1/queue",
    auth: "viewer",
    tag: "queue",
    summary: "Queue entries by state, and the quarantined ones with their reasons",
    response: QueueSchema,
    handler: async (c, { deps }) => c.json(await deps.orchestrator.queue()),
  }),
  route({
    method: "post",
    path: "/api/v1/queue/:entry/requeue",
    auth: "operator",
    tag: "queue",
    summary: "Put a quarantined entry back in the queue",
    status: 202,
    response: z.object({ entry: z.string(), requeued: z.literal(true) }),
    errors: [404],
    handler: async (c, input) => {
      const entry = input.params.entry as string;
      try {
        await input.deps.orchestrator.requeue(entry, { actor: actorOf(input), action: "queue.requeue", target: entry });
      } catch (error) {
        if (error instanceof GantryError && error.code === "NOT_FOUND") throw notFound(error.message);
        throw error;
      }
      return c.json({ entry, requeued: true as const }, 202);
    },
  }),
];
