/**
 * The compile-time part (kind, options schema) of the executor kinds this
 * Gantry ships: light, so the public `compileWorkflow` can default to it
 * without loading any executor. `builtin.ts` has the full descriptors.
 */
import { executorKinds, type ExecutorKinds } from "../core/executor-kind.js";
import { containerKindSchema } from "./container/schema.js";
import { localKindSchema } from "./local/schema.js";
import { sshKindSchema } from "./ssh/schema.js";

export const builtinExecutorKindSchemas: ExecutorKinds = executorKinds([localKindSchema, containerKindSchema, sshKindSchema]);
