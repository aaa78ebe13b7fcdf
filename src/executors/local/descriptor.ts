/** The `local` executor kind: a directory per job on the runner's disk. */
import { defineExecutorKind } from "../../core/executor-kind.js";
import { createLocalExecutor } from "./index.js";
import { localKindSchema } from "./schema.js";

export const localExecutorKind = defineExecutorKind({
  ...localKindSchema,
  create: (def) => createLocalExecutor(def),
  // No probe: it needs nothing but this machine.
});
