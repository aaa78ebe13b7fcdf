/** Options of `executors.container()`: the schema the compiler checks them with, and their type. */
import { posix } from "node:path";
import { z } from "zod";
import { defineExecutorKindSchema } from "../../core/executor-kind.js";
import { describe } from "../../core/issues.js";
import { envRecordSchema, nonEmpty } from "../../core/schemas.js";

const record = z.record(z.string(), z.string());
const absolute = (what: string) =>
  z.string().refine((v) => posix.isAbsolute(v), { error: (iss) => `${what} must be an absolute path, got ${describe(iss.input)}` });

export const containerOptionsSchema = z.strictObject({
  image: z.union(
    [
      nonEmpty,
      z.strictObject({ build: z.strictObject({ context: nonEmpty, dockerfile: z.string().optional(), args: record.optional() }) }),
    ],
    {
      error: (iss) =>
        iss.code === "invalid_union" && iss.input !== undefined
          ? `image must be an image name or { build: { context } }, got ${describe(iss.input)}`
          : undefined,
    },
  ),
  mode: z.enum(["shared", "isolated"]).optional(),
  name: nonEmpty.optional(),
  copyRepo: z.boolean().optional(),
  env: envRecordSchema.optional(),
  mounts: z
    .array(z.strictObject({ source: nonEmpty, target: absolute("a mount target in the container"), readonly: z.boolean().optional() }))
    .optional(),
  user: z.string().optional(),
  workdir: z
    .string()
    .refine((v) => posix.isAbsolute(v) && posix.normalize(v) !== "/", {
      error: (iss) => `must be an absolute directory other than /, got ${describe(iss.input)}`,
    })
    .optional(),
  network: z.string().optional(),
  pull: z.enum(["missing", "always", "never"]).optional(),
  engine: z.string().optional(),
  mount: z.enum(["bind", "copy"]).optional(),
});

export interface ContainerExecutorOptions {
  readonly image:
    | string
    | { readonly build: { readonly context: string; readonly dockerfile?: string; readonly args?: Readonly<Record<string, string>> } };
  readonly mode?: "shared" | "isolated";
  readonly name?: string;
  readonly copyRepo?: boolean;
  readonly env?: Readonly<Record<string, string>>;
  readonly mounts?: ReadonlyArray<{ readonly source: string; readonly target: string; readonly readonly?: boolean }>;
  readonly user?: string;
  readonly workdir?: string;
  readonly network?: string;
  readonly pull?: "missing" | "always" | "never";
  readonly engine?: string;
  readonly mount?: "bind" | "copy";
}

/** What the compiler needs of the `container` kind. */
export const containerKindSchema = defineExecutorKindSchema<ContainerExecutorOptions>({
  kind: "container",
  optionsSchema: containerOptionsSchema,
  copiesRepo: (options) => options.copyRepo !== false,
});
