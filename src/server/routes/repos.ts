/**
 * Repositories and their workflows, read at a pinned commit (default: the
 * head of the default branch).
 */
import type { z } from "zod";
import { z as zod } from "zod";
import { notFound } from "../errors.js";
import type { AppDeps } from "../deps.js";
import { treeWorkflows } from "../workflows.js";
import { route, type RouteDef } from "./route.js";
import { RepoSchema, WorkflowListSchema, WorkflowsQuery } from "./schemas.js";

export function repoOf(deps: AppDeps, name: string): string {
  if (!deps.repos.get(name))
    throw notFound(
      `no repository named "${name}" (known: ${
        deps.repos
          .list()
          .map((r) => r.name)
          .join(", ") || "none"
      })`,
    );
  return name;
}

export const repoRoutes: RouteDef[] = [
  route({
    method: "get",
    path: "/api/v1/repos",
    auth: "viewer",
    tag: "repos",
    summary: "The repositories this server runs workflows of",
    response: zod.object({ repos: zod.array(RepoSchema) }),
    handler: (c, { deps }) => c.json({ repos: deps.repos.list().map((r) => ({ name: r.name, source: r.source })) }),
  }),
  route<undefined, z.infer<typeof WorkflowsQuery>>({
    method: "get",
    path: "/api/v1/repos/:repo/workflows",
    auth: "viewer",
    tag: "repos",
    summary: "The workflows (.gantry/*.ts) of a repository at a ref (default: its default branch)",
    query: WorkflowsQuery,
    response: WorkflowListSchema,
    errors: [400, 404],
    handler: async (c, { deps, params, query }) => {
      const name = repoOf(deps, params.repo as string);
      const tree = await deps.repos.checkout(await deps.repos.resolve(name, query.ref));
      const workflows = (await treeWorkflows(tree.dir, deps.stateDir)).map(({ loaded, plan }) => ({
        name: plan.workflow.name,
        file: loaded.file,
        jobs: plan.jobs.map((j) => j.id),
        inputs: plan.workflow.inputs ?? null,
      }));
      return c.json({ repo: name, ref: tree.ref, commit: tree.commit, workflows });
    },
  }),
];
