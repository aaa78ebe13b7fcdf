/**
 * The zod schemas of the API's bodies, queries and responses: requests are
 * validated with them and the OpenAPI document is generated from them.
 */
import { z } from "zod";

/** The named schemas of the API: `components.schemas` of the OpenAPI document. */
export const apiSchemas = z.registry<{ id: string }>();

export const ErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).register(apiSchemas, { id: "Error" });

const status = z.string();

export const RunSchema = z
  .object({
    id: z.string(),
    workflow: z.string(),
    file: z.string(),
    trigger: z.string(),
    status,
    planHash: z.string().nullable(),
    startedAt: z.number().int(),
    finishedAt: z.number().int().nullable(),
    durationMs: z.number().int().nullable(),
    parentRunId: z.string().nullable(),
  })
  .register(apiSchemas, { id: "Run" });

export const StepSchema = z
  .object({
    stepIndex: z.number().int(),
    name: z.string(),
    status,
    attempts: z.number().int(),
    exitCode: z.number().int().nullable(),
    reason: z.string().nullable(),
    startedAt: z.number().int().nullable(),
    finishedAt: z.number().int().nullable(),
    durationMs: z.number().int().nullable(),
  })
  .register(apiSchemas, { id: "Step" });

export const ArtifactSchema = z
  .object({ jobId: z.string(), name: z.string(), hash: z.string(), size: z.number().int(), createdAt: z.number().int() })
  .register(apiSchemas, { id: "Artifact" });

export const JobSchema = z
  .object({
    jobId: z.string(),
    key: z.string(),
    name: z.string(),
    matrix: z.record(z.string(), z.unknown()),
    needs: z.array(z.string()),
    executor: z.string().nullable(),
    status,
    attempts: z.number().int(),
    outputs: z.record(z.string(), z.string()),
    reason: z.string().nullable(),
    startedAt: z.number().int().nullable(),
    finishedAt: z.number().int().nullable(),
    durationMs: z.number().int().nullable(),
    location: z.string().nullable(),
    logLimit: z.number().int().nullable(),
    logTruncatedBytes: z.number().int().nullable(),
    steps: z.array(StepSchema),
  })
  .register(apiSchemas, { id: "Job" });

/** Where a server run came from: the repository, the pinned commit, the ref, and what started it (a webhook's event, sender and delivery). */
export const RunSourceSchema = z
  .object({
    repo: z.string(),
    commit: z.string().nullable(),
    ref: z.string().nullable(),
    trigger: z.object({
      kind: z.string(),
      by: z.string().optional(),
      event: z.string().optional(),
      sender: z.string().optional(),
      delivery: z.string().optional().describe("GET /api/v1/hooks/deliveries/{delivery}"),
      pullRequest: z.number().int().optional(),
    }),
  })
  .register(apiSchemas, { id: "RunSource" });

export const RunDetailSchema = RunSchema.extend({
  inputs: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe("the run's typed inputs as parsed by the workflow's schema; null when none"),
  source: RunSourceSchema.nullable(),
  jobs: z.array(JobSchema),
}).register(apiSchemas, { id: "RunDetail" });

export const RunListSchema = z.object({ runs: z.array(RunSchema), next: z.string().nullable() }).register(apiSchemas, { id: "RunList" });

export const RunListQuery = z.object({
  repo: z.string().optional(),
  workflow: z.string().optional(),
  status: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().optional(),
});

export const LogsQuery = z.object({ job: z.string().optional(), step: z.string().optional() });

export const RepoSchema = z.object({ name: z.string(), source: z.string() }).register(apiSchemas, { id: "Repo" });

export const WorkflowSchema = z
  .object({
    name: z.string(),
    file: z.string(),
    jobs: z.array(z.string()),
    inputs: z
      .record(z.string(), z.unknown())
      .nullable()
      .describe("the JSON schema (draft 2020-12) of the workflow's typed inputs, for a trigger form; null when it declares none"),
  })
  .register(apiSchemas, { id: "Workflow" });

export const WorkflowsQuery = z.object({ ref: z.string().optional() });

export const WorkflowListSchema = z
  .object({ repo: z.string(), ref: z.string(), commit: z.string(), workflows: z.array(WorkflowSchema) })
  .register(apiSchemas, { id: "WorkflowList" });

export const TokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(["admin", "operator", "viewer"]),
    createdAt: z.number().int(),
    expiresAt: z.number().int().nullable(),
    revokedAt: z.number().int().nullable(),
    createdBy: z.string(),
  })
  .register(apiSchemas, { id: "Token" });

export const TokenCreateBody = z
  .object({
    name: z.string().min(1).max(100),
    role: z.enum(["admin", "operator", "viewer"]),
    expires: z.string().optional().describe("lifetime like 30d, 12h, 90m"),
  })
  .strict();

export const AuditSchema = z
  .object({
    id: z.number().int(),
    at: z.number().int(),
    actor: z.string(),
    action: z.string(),
    target: z.string(),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .register(apiSchemas, { id: "AuditEntry" });

export const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().optional(),
});
