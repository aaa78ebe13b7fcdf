/**
 * The executor kinds this Gantry ships, one descriptor per folder. The CLI
 * (and later the server and agent) compile plans against this table and
 * build executors from it. Adding a kind: a folder with `schema.ts` (options
 * schema and type, the compile-time part) and `descriptor.ts` (`create`,
 * `probe`), one line here and in `kind-schemas.ts`, and the conformance
 * suite (docs/architecture.md, "Write your own executor").
 */
import { executorKinds, type ExecutorDescriptors } from "../core/executor-kind.js";
import { containerExecutorKind } from "./container/descriptor.js";
import { localExecutorKind } from "./local/descriptor.js";
import { sshExecutorKind } from "./ssh/descriptor.js";

export const builtinExecutorKinds: ExecutorDescriptors = executorKinds([localExecutorKind, containerExecutorKind, sshExecutorKind]);
