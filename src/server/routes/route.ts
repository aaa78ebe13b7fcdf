/**
 * One route of the API: method, path, who may call it, its zod schemas and
 * its handler. The route table (`routes/index.ts`) is the single source for
 * the app's routing, the auth check, the OpenAPI document and the auth-matrix
 * test: a route cannot exist without an auth rule.
 */
import type { Context } from "hono";
import type { z } from "zod";
import type { TokenRole } from "../../store/store.js";
import type { Principal } from "../auth.js";
import type { AppDeps } from "../deps.js";

/**
 * `public`: no token; `metrics`: public only with `--metrics-public`, else viewer; `signature`: no token, the
 * handler checks the request's signature itself (webhooks); else the least role needed.
 */
export type AuthRule = "public" | "metrics" | "signature" | TokenRole;

export type Produces = "json" | "text" | "sse" | "tar" | "metrics";

export interface RouteInput<B, Q> {
  readonly deps: AppDeps;
  /** Undefined only on public routes. */
  readonly principal: Principal | undefined;
  readonly params: Readonly<Record<string, string>>;
  readonly body: B;
  readonly query: Q;
}

export interface RouteDef<B = unknown, Q = unknown> {
  readonly method: "get" | "post" | "delete";
  /** Hono syntax: `/api/v1/runs/:id`. */
  readonly path: string;
  readonly auth: AuthRule;
  readonly summary: string;
  readonly tag: string;
  readonly body?: z.ZodType<B>;
  readonly query?: z.ZodType<Q>;
  /** The JSON response (for the OpenAPI document); `produces` says when it is not JSON. */
  readonly response?: z.ZodType;
  readonly status?: 200 | 201 | 202;
  readonly produces?: Produces;
  /** Status codes the route may answer with besides success and the auth ones. */
  readonly errors?: readonly number[];
  /** The handler reads the raw body itself, up to this many bytes (the app's body limit does not apply). */
  readonly rawBodyLimit?: number;
  readonly handler: (c: Context, input: RouteInput<B, Q>) => Promise<Response> | Response;
}

/** Typed helper: the handler sees the parsed body and query. */
export function route<B = undefined, Q = undefined>(def: RouteDef<B, Q>): RouteDef {
  return def as unknown as RouteDef;
}

/** The name of the actor of a request, for audit rows. */
export function actorOf(input: { principal: Principal | undefined }): string {
  return input.principal ? `token:${input.principal.tokenId}` : "anonymous";
}
