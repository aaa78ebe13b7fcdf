/**
 * The route table: every route of the API, each with its auth rule. The app,
 * the OpenAPI document and the auth-matrix test are all built from it.
 */
import type { AppDeps } from "../deps.js";
import { hookRoutes } from "../hooks/routes.js";
import { adminRoutes } from "./admin.js";
import { controlRoutes } from "./control.js";
import { opsRoutes } from "./ops.js";
import { repoRoutes } from "./repos.js";
import type { RouteDef } from "./route.js";
import { runRoutes } from "./runs.js";

/** The routes of an app with these deps (routes that need the orchestrator only when it is there). */
export function routeTable(_deps?: Pick<AppDeps, never>): RouteDef[] {
  return [...opsRoutes, ...repoRoutes, ...runRoutes, ...controlRoutes, ...adminRoutes, ...hookRoutes];
}
