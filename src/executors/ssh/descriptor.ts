/** The `ssh` executor kind: jobs on remote hosts over SSH. */
import { defineExecutorKind } from "../../core/executor-kind.js";
import { createSshExecutor } from "./index.js";
import { sshKindSchema } from "./schema.js";

export const sshExecutorKind = defineExecutorKind({
  ...sshKindSchema,
  create: (def) => createSshExecutor(def),
  // No probe: hosts are reached when the run starts (a pool skips the ones that are down).
});
