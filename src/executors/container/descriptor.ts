/** The `container` executor kind: jobs in Docker or Podman containers. */
import { coerceError } from "../../core/errors.js";
import { defineExecutorKind } from "../../core/executor-kind.js";
import { containerOptions } from "./convert.js";
import { connectEngine } from "./engine.js";
import { createContainerExecutor } from "./index.js";
import { containerKindSchema } from "./schema.js";

export const containerExecutorKind = defineExecutorKind({
  ...containerKindSchema,
  create: (def) => createContainerExecutor(def),
  /** Available when an engine (the `engine` option, DOCKER_HOST, or the usual sockets) answers. */
  async probe(def) {
    try {
      await connectEngine(containerOptions(def).engine);
      return undefined;
    } catch (error) {
      return coerceError(error).message;
    }
  },
});
