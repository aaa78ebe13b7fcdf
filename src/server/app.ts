/**
 * `createApp(deps)`: the Hono app of `gantry server`, built from the route
 * table, without listening (tests call `app.request()`). Per request: body
 * size limit (unless the route reads its raw body itself), optional CORS, the route's auth rule (401 without or with a
 * bad token, 403 for a role too low), zod validation of query and body (400
 * naming the field), the handler, and one error mapping to
 * `{ error: { code, message } }`. Durations go to the metrics by route.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { z } from "zod";
import { GantryError } from "../core/errors.js";
import { authenticate, roleAllows, type Principal } from "./auth.js";
import type { AppDeps } from "./deps.js";
import { ApiError, errorBody } from "./errors.js";
import { openApiDocument } from "./openapi.js";
import { routeTable } from "./routes/index.js";
import type { RouteDef } from "./routes/route.js";

const USER_ERRORS = new Set(["USAGE", "LOAD_FAILED", "PLAN_INVALID", "ENV_MISSING", "ENV_INVALID"]);

function zodMessage(where: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.map(String).join(".");
      return `${where}${path ? ` field "${path}"` : ""}: ${i.message}`;
    })
    .join("; ");
}

function toResponse(c: Context, error: unknown, deps: AppDeps): Response {
  if (error instanceof ApiError) return c.json(errorBody(error.code, error.message), error.status);
  if (error instanceof GantryError) {
    if (USER_ERRORS.has(error.code)) return c.json(errorBody("invalid_request", error.message), 400);
    if (error.code === "NOT_FOUND") return c.json(errorBody("not_found", error.message), 404);
    if (error.code === "EXECUTOR_FAILED" || error.code === "STORE_FAILED") return c.json(errorBody("unavailable", error.message), 503);
  }
  deps.logger?.error({ err: error, path: c.req.path }, "request failed");
  return c.json(errorBody("internal", "the server failed to answer this request; its log has the details"), 500);
}

async function principalFor(c: Context, route: RouteDef, deps: AppDeps): Promise<Principal | undefined> {
  if (route.auth === "public" || route.auth === "signature" || (route.auth === "metrics" && deps.metricsPublic)) return undefined;
  const principal = await authenticate(deps.store, c.req.header("authorization"), (deps.now ?? Date.now)());
  const needed = route.auth === "metrics" ? "viewer" : route.auth;
  if (!roleAllows(principal.role, needed))
    throw new ApiError(403, "forbidden", `this needs the ${needed} role; the token "${principal.name}" has ${principal.role}`);
  return principal;
}

async function parseBody(c: Context, route: RouteDef): Promise<unknown> {
  if (!route.body) return undefined;
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw new ApiError(400, "invalid_request", "the request body is not valid JSON");
    }
  }
  const parsed = route.body.safeParse(value);
  if (!parsed.success) throw new ApiError(400, "invalid_request", zodMessage("body", parsed.error));
  return parsed.data;
}

function parseQuery(c: Context, route: RouteDef): unknown {
  if (!route.query) return {};
  const parsed = route.query.safeParse(c.req.query());
  if (!parsed.success) throw new ApiError(400, "invalid_request", zodMessage("query", parsed.error));
  return parsed.data;
}

export function createApp(deps: AppDeps, routes: readonly RouteDef[] = routeTable(deps)): Hono {
  const app = new Hono();
  const limit = deps.bodyLimitBytes ?? 1024 * 1024;
  if (deps.corsOrigins && deps.corsOrigins.length > 0) app.use("*", cors({ origin: [...deps.corsOrigins] }));
  const limited = bodyLimit({
    maxSize: limit,
    onError: (c) => c.json(errorBody("payload_too_large", `the request body is larger than ${limit} bytes`), 413),
  });
  for (const route of routes) {
    // A route that reads its raw body itself (webhooks) enforces its own limit while it reads.
    const handle = async (c: Context): Promise<Response> => {
      const started = performance.now();
      let response: Response;
      try {
        const principal = await principalFor(c, route, deps);
        const query = parseQuery(c, route);
        const body = await parseBody(c, route);
        response = await route.handler(c, { deps, principal, params: c.req.param(), query, body });
      } catch (error) {
        response = toResponse(c, error, deps);
      }
      deps.metrics.httpDuration.observe(
        { method: route.method.toUpperCase(), route: route.path, status: String(response.status) },
        (performance.now() - started) / 1000,
      );
      return response;
    };
    if (route.rawBodyLimit === undefined) app.on(route.method.toUpperCase(), route.path, limited, handle);
    else app.on(route.method.toUpperCase(), route.path, handle);
  }
  const doc = openApiDocument(routes, "1");
  app.get("/api/v1/openapi.json", (c) => c.json(doc));
  app.notFound((c) => c.json(errorBody("not_found", `no route ${c.req.method} ${c.req.path}; see /api/v1/openapi.json`), 404));
  app.onError((error, c) => toResponse(c, error, deps));
  return app;
}
