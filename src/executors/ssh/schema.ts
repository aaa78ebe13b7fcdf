/** Options of `executors.ssh()`: the schema the compiler checks them with, and their type. */
import { posix } from "node:path";
import { z } from "zod";
import { defineExecutorKindSchema } from "../../core/executor-kind.js";
import type { Duration } from "../../core/duration.js";
import { describe } from "../../core/issues.js";
import { nonEmpty, positiveTimerDurationSchema, timerDurationSchema } from "../../core/schemas.js";
import { parseHostSpec } from "./config.js";

const hostSpec = nonEmpty.superRefine((value, ctx) => {
  const spec = parseHostSpec(value);
  if ("error" in spec) ctx.addIssue({ code: "custom", message: spec.error });
});

export const sshOptionsSchema = z
  .strictObject({
    host: hostSpec.optional(),
    hosts: z.array(hostSpec).min(1, { error: "hosts must list at least one host" }).optional(),
    user: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    identityFile: z.string().optional(),
    agent: z.union([z.string(), z.boolean()]).optional(),
    knownHosts: z.string().optional(),
    hostKeyPolicy: z.enum(["strict", "accept-new"]).optional(),
    mode: z.enum(["shared", "dedicated", "pool"]).optional(),
    workspaceDir: nonEmpty
      .refine((v) => !v.includes("\0") && posix.normalize(v) !== "/", {
        error: (iss) => `workspaceDir ${describe(iss.input)} would put runs in the root directory`,
      })
      .optional(),
    copyRepo: z.boolean().optional(),
    name: nonEmpty.optional(),
    maxJobsPerHost: z.number().int().min(1).optional(),
    connectTimeout: (positiveTimerDurationSchema as z.ZodType<Duration>).optional(),
    keepalive: (timerDurationSchema as z.ZodType<Duration>).optional(),
  })
  .refine((o) => o.host !== undefined || o.hosts !== undefined, { error: "an ssh executor needs host or hosts" });

export interface SshExecutorOptions {
  readonly host?: string;
  readonly hosts?: readonly string[];
  readonly user?: string;
  readonly port?: number;
  readonly identityFile?: string;
  readonly agent?: string | boolean;
  readonly knownHosts?: string;
  readonly hostKeyPolicy?: "strict" | "accept-new";
  readonly mode?: "shared" | "dedicated" | "pool";
  readonly workspaceDir?: string;
  readonly copyRepo?: boolean;
  readonly name?: string;
  readonly maxJobsPerHost?: number;
  readonly connectTimeout?: Duration;
  readonly keepalive?: Duration;
}

/** What the compiler needs of the `ssh` kind. */
export const sshKindSchema = defineExecutorKindSchema<SshExecutorOptions>({
  kind: "ssh",
  optionsSchema: sshOptionsSchema,
  copiesRepo: (options) => options.copyRepo !== false,
});
