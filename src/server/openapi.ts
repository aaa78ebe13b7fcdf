/**
 * The OpenAPI 3.1 document, generated from the route table and its zod
 * schemas (`z.toJSONSchema`): what the API validates is what it documents.
 */
import { z } from "zod";
import type { RouteDef } from "./routes/route.js";
import { apiSchemas } from "./routes/schemas.js";

type Json = Record<string, unknown>;

const CONTENT: Record<string, string> = {
  text: "text/plain",
  sse: "text/event-stream",
  tar: "application/x-tar",
  metrics: "text/plain",
};

const uri = (id: string): string => `#/components/schemas/${id}`;

function schemaOf(type: z.ZodType, io: "input" | "output"): Json {
  const schema = z.toJSONSchema(type, { target: "draft-2020-12", io, unrepresentable: "any" }) as Json;
  delete schema.$schema;
  return schema;
}

/** A response schema: a `$ref` when it is one of the named schemas, else inline (named parts as `$ref`s). */
function responseSchema(type: z.ZodType): Json {
  const id = apiSchemas.get(type)?.id;
  if (id) return { $ref: uri(id) };
  const schema = z.toJSONSchema(type, { target: "draft-2020-12", metadata: apiSchemas, unrepresentable: "any" }) as Json & { $defs?: Json };
  const { $schema: _s, $defs: _d, ...rest } = schema;
  return JSON.parse(JSON.stringify(rest).replace(/"#\/\$defs\/(\w+)"/g, (_m, name: string) => `"${uri(name)}"`)) as Json;
}

function components(): Json {
  const { schemas } = z.toJSONSchema(apiSchemas, { target: "draft-2020-12", uri, unrepresentable: "any" }) as {
    schemas: Record<string, Json>;
  };
  const out: Json = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _s, id: _id, ...rest } = schema;
    out[id] = rest;
  }
  return out;
}

export function openApiDocument(routes: readonly RouteDef[], version: string): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z]+)/g, "{$1}");
    const params: Json[] = [...r.path.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    if (r.query) {
      const q = schemaOf(r.query, "input") as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, s] of Object.entries(q.properties ?? {}))
        params.push({ name, in: "query", required: (q.required ?? []).includes(name), schema: s });
    }
    const status = String(r.status ?? 200);
    const success: Json =
      r.produces && r.produces !== "json"
        ? { description: "OK", content: { [CONTENT[r.produces] as string]: { schema: { type: "string" } } } }
        : { description: "OK", content: { "application/json": { schema: r.response ? responseSchema(r.response) : {} } } };
    const responses: Json = { [status]: success };
    const error = { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
    const codes = new Set(r.errors ?? []);
    if (r.auth !== "public") {
      codes.add(401);
      if (r.auth !== "viewer" && r.auth !== "metrics" && r.auth !== "signature") codes.add(403);
    }
    if (r.body) codes.add(400).add(413);
    for (const code of [...codes].sort()) responses[String(code)] = { description: DESCRIPTIONS[code] ?? "Error", ...error };
    const op: Json = {
      operationId: `${r.method}${path
        .replace(/[{}]/g, "")
        .replace(/(^|[/_-])([a-z])/g, (_m, _p, ch: string) => ch.toUpperCase())
        .replace(/[^A-Za-z0-9]/g, "")}`,
      summary: r.summary,
      tags: [r.tag],
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: schemaOf(r.body, "input") } } } } : {}),
      responses,
      ...(r.rawBodyLimit !== undefined
        ? {
            requestBody: {
              required: true,
              content: { "application/json": { schema: { type: "object", description: "the forge's payload, signed" } } },
            },
          }
        : {}),
      ...(r.auth === "public" || r.auth === "signature" ? { security: [] } : {}),
      "x-gantry-role": r.auth,
    };
    paths[path] = { ...(paths[path] ?? {}), [r.method]: op };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Gantry server API", version, description: "Runs, logs, artifacts, queue, tokens and audit of a Gantry server." },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "an API token: gantry server token create" } },
      schemas: components(),
    },
    paths,
  };
}

const DESCRIPTIONS: Record<number, string> = {
  400: "Invalid request (the message names the field)",
  401: "No token, or a token that is unknown, revoked or expired",
  403: "The token's role may not do this",
  404: "Not found",
  409: "Conflict with the current state",
  413: "Request body too large",
  503: "Not ready",
};
