/**
 * Admin routes: API tokens (create shows the token once) and the audit
 * trail. Each change writes its audit row in the same transaction.
 */
import { z } from "zod";
import { GantryError } from "../../core/errors.js";
import { createToken, parseExpiry, revokeToken } from "../auth.js";
import { invalid, notFound } from "../errors.js";
import { actorOf, route, type RouteDef } from "./route.js";
import { AuditQuery, AuditSchema, TokenCreateBody, TokenSchema } from "./schemas.js";

export const adminRoutes: RouteDef[] = [
  route({
    method: "get",
    path: "/api/v1/tokens",
    auth: "admin",
    tag: "admin",
    summary: "List API tokens (never the tokens themselves)",
    response: z.object({ tokens: z.array(TokenSchema) }),
    handler: async (c, { deps }) => c.json({ tokens: await deps.store.tokens.list() }),
  }),
  route<z.infer<typeof TokenCreateBody>>({
    method: "post",
    path: "/api/v1/tokens",
    auth: "admin",
    tag: "admin",
    summary: "Create a token; the response holds the token, shown this once",
    body: TokenCreateBody,
    status: 201,
    response: z.object({ token: z.string(), record: TokenSchema }),
    errors: [400],
    handler: async (c, input) => {
      let expiresInMs: number | undefined;
      try {
        expiresInMs = input.body.expires === undefined ? undefined : parseExpiry(input.body.expires);
      } catch (error) {
        throw invalid(`expires: ${error instanceof GantryError ? error.message.replace(/^--expires /, "") : String(error)}`);
      }
      const created = await createToken(input.deps.store, {
        name: input.body.name,
        role: input.body.role,
        actor: actorOf(input),
        ...(expiresInMs !== undefined ? { expiresInMs } : {}),
      });
      return c.json(created, 201);
    },
  }),
  route({
    method: "delete",
    path: "/api/v1/tokens/:id",
    auth: "admin",
    tag: "admin",
    summary: "Revoke a token (at once, for every server)",
    response: z.object({ id: z.string(), revoked: z.literal(true) }),
    errors: [404],
    handler: async (c, input) => {
      const id = input.params.id as string;
      if (!(await revokeToken(input.deps.store, id, actorOf(input)))) throw notFound(`no token with id "${id}"`);
      return c.json({ id, revoked: true as const });
    },
  }),
  route<undefined, z.infer<typeof AuditQuery>>({
    method: "get",
    path: "/api/v1/audit",
    auth: "admin",
    tag: "admin",
    summary: "The audit trail, newest first (page with `cursor` = the `next` of the previous page)",
    query: AuditQuery,
    response: z.object({ entries: z.array(AuditSchema), next: z.string().nullable() }),
    errors: [400],
    handler: async (c, { deps, query }) => {
      const page = await deps.store.audit.list({
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
        ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
      });
      return c.json({ entries: page.entries, next: page.next ?? null });
    },
  }),
];
