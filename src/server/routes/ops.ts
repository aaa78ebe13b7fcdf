/**
 * Operations: liveness, readiness (store reachable, schema current) and
 * Prometheus metrics.
 */
import { z } from "zod";
import { LATEST_SCHEMA_VERSION } from "../../store/migrations/index.js";
import { ApiError } from "../errors.js";
import { route, type RouteDef } from "./route.js";

export const opsRoutes: RouteDef[] = [
  route({
    method: "get",
    path: "/healthz",
    auth: "public",
    tag: "ops",
    summary: "Alive (the process answers)",
    response: z.object({ ok: z.literal(true) }),
    handler: (c) => c.json({ ok: true as const }),
  }),
  route({
    method: "get",
    path: "/readyz",
    auth: "public",
    tag: "ops",
    summary: "Ready: the store answers and its schema is this server's",
    response: z.object({ ok: z.literal(true), store: z.string(), schema: z.number().int() }),
    errors: [503],
    handler: async (c, { deps }) => {
      let version: number;
      try {
        version = await deps.store.schemaVersion();
      } catch (error) {
        throw new ApiError(503, "unavailable", `the store at ${deps.store.location} does not answer: ${(error as Error).message}`);
      }
      if (version !== LATEST_SCHEMA_VERSION)
        throw new ApiError(503, "unavailable", `the store's schema is version ${version}, this server needs ${LATEST_SCHEMA_VERSION}`);
      return c.json({ ok: true as const, store: deps.store.kind, schema: version });
    },
  }),
  route({
    method: "get",
    path: "/metrics",
    auth: "metrics",
    tag: "ops",
    summary: "Prometheus metrics (needs a token unless the server runs with --metrics-public)",
    produces: "metrics",
    handler: async (c, { deps }) => {
      const text = await deps.metrics.registry.metrics();
      return c.body(text, 200, { "content-type": deps.metrics.registry.contentType });
    },
  }),
];
