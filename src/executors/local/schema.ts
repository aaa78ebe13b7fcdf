/** Options of `executors.local()`: the schema the compiler checks them with, and their type. */
import { z } from "zod";
import { defineExecutorKindSchema } from "../../core/executor-kind.js";
import { nonEmpty } from "../../core/schemas.js";

export const localOptionsSchema = z.strictObject({
  name: nonEmpty.optional(),
  copyRepo: z.boolean().optional(),
});

export interface LocalExecutorOptions {
  readonly name?: string;
  /** Copy the repository (git-tracked plus untracked, not ignored files) into each job dir. Default true. */
  readonly copyRepo?: boolean;
}

/** What the compiler needs of the `local` kind. */
export const localKindSchema = defineExecutorKindSchema<LocalExecutorOptions>({
  kind: "local",
  optionsSchema: localOptionsSchema,
  defaultName: () => "local",
  copiesRepo: (options) => options.copyRepo !== false,
});
