/**
 * Container engines for tests: Docker and Podman as scripts/provision-containers.sh
 * starts them, with the local test images of scripts/build-test-images.sh.
 * Tests never start an engine: a suite whose engine is missing is skipped
 * through `requireService` (one line at the end of the run), and fails under
 * GANTRY_REQUIRE_SERVICES=1 (CI).
 */
import type { EngineKind } from "../../src/executors/container/engine.js";
import { ENGINE_ADDRESS, requireService } from "./services.js";

export const BUSYBOX = "gantry-test/busybox:1";
export const DEBIAN = "gantry-test/debian:12";
export const NOSHELL = "gantry-test/noshell:1";

export interface TestEngine {
  readonly kind: EngineKind;
  /** `unix:///...`: the value for the executor's `engine` option. */
  readonly address: string;
}

/** The engine for a suite, or `undefined` when it is skipped (see `requireService`). */
export async function engineForSuite(kind: EngineKind, suite: string): Promise<TestEngine | undefined> {
  const missing = await requireService(kind, suite);
  return missing === undefined ? { kind, address: ENGINE_ADDRESS[kind] } : undefined;
}
