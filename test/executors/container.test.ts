/**
 * The container executor against real engines: the conformance suite on
 * Docker and on Podman, in shared and isolated mode.
 */
import { describeExecutorConformance, makePlanExecutor } from "gantry/testing";
import { createContainerExecutor } from "../../src/executors/container/index.js";
import { BUSYBOX, DEBIAN, engineForSuite } from "../support/engines.js";

const docker = await engineForSuite("docker", "container executor on docker");
const podman = await engineForSuite("podman", "container executor on podman");

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

for (const [label, engine] of [
  ["docker", docker],
  ["podman", podman],
] as const) {
  const skip = engine ? false : `${label} is not available`;
  describeExecutorConformance(
    `container on ${label} (shared, debian)`,
    () => ({
      executor: createContainerExecutor(
        makePlanExecutor({
          name: `conf-shared-${label}`,
          kind: "container",
          options: { image: DEBIAN, pull: "never", engine: engine?.address },
        }),
      ),
    }),
    { skip, env: { PATH } },
  );
  describeExecutorConformance(
    `container on ${label} (isolated, busybox)`,
    () => ({
      executor: createContainerExecutor(
        makePlanExecutor({
          name: `conf-isolated-${label}`,
          kind: "container",
          options: { image: BUSYBOX, mode: "isolated", pull: "never", copyRepo: false, engine: engine?.address },
        }),
      ),
    }),
    { skip, env: { PATH } },
  );
}
