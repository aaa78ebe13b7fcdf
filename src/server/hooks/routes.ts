/**
 * The webhook routes: the forge's delivery (signed, no token) and the
 * deliveries as stored (viewer), with what each started.
 */
import { z } from "zod";
import { notFound } from "../errors.js";
import { apiSchemas } from "../routes/schemas.js";
import { route, type RouteDef } from "../routes/route.js";
import { deliveryJson, HOOK_BODY_LIMIT, receiveHook } from "./receive.js";

export const DeliverySchema = z
  .object({
    id: z.string(),
    repo: z.string(),
    provider: z.string(),
    delivery: z.string().describe("the forge's delivery id"),
    event: z.string().describe("push, pull_request, ping or ignored"),
    state: z.enum(["pending", "processing", "done", "failed"]),
    attempts: z.number().int(),
    receivedAt: z.number().int(),
    finishedAt: z.number().int().nullable(),
    result: z.unknown().describe("runs started, workflows skipped and why, errors"),
    duplicate: z.boolean().optional(),
  })
  .register(apiSchemas, { id: "HookDelivery" });

const DeliveriesQuery = z.object({ repo: z.string().optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });

export const hookRoutes: RouteDef[] = [
  route({
    method: "post",
    path: "/api/v1/hooks/:provider/:repo",
    auth: "signature",
    tag: "hooks",
    summary:
      "A forge's webhook (github, gitea, forgejo, gitlab): signature checked over the raw body, the delivery stored, then processed (202); a repeated delivery id answers 200",
    status: 202,
    rawBodyLimit: HOOK_BODY_LIMIT,
    response: DeliverySchema,
    errors: [400, 404, 409, 413],
    handler: (c, { deps, params }) => receiveHook(c, deps.store, deps.hooks, params.provider as string, params.repo as string),
  }),
  route<undefined, z.infer<typeof DeliveriesQuery>>({
    method: "get",
    path: "/api/v1/hooks/deliveries",
    auth: "viewer",
    tag: "hooks",
    summary: "Webhook deliveries, newest first, with their state and what they started",
    query: DeliveriesQuery,
    response: z.object({ deliveries: z.array(DeliverySchema) }),
    errors: [400],
    handler: async (c, { deps, query }) =>
      c.json({
        deliveries: (
          await deps.store.hooks.list({ ...(query.repo ? { repo: query.repo } : {}), ...(query.limit ? { limit: query.limit } : {}) })
        ).map(deliveryJson),
      }),
  }),
  route({
    method: "get",
    path: "/api/v1/hooks/deliveries/:id",
    auth: "viewer",
    tag: "hooks",
    summary: "One webhook delivery: its state and the runs it started",
    response: DeliverySchema,
    errors: [404],
    handler: async (c, { deps, params }) => {
      const d = await deps.store.hooks.get(params.id as string);
      if (!d) throw notFound(`no webhook delivery "${params.id as string}"`);
      return c.json(deliveryJson(d));
    },
  }),
];
