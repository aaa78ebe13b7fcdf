/**
 * `gantry/testing`: test kits for people who extend Gantry.
 * Needs vitest (a peer dependency of this entry point).
 */

// ---------------------------------------------------------------- executor conformance suite
export {
  describeExecutorConformance,
  makeJobInfo,
  makeWorkspaceInfo,
  makePlanJob,
  makePlanExecutor,
  buildTar,
  readTar,
} from "./executors/conformance.js";
export type { ConformanceOptions, ConformanceSubject, MakeInfoOptions, TarFixtureEntry, TarListingEntry } from "./executors/conformance.js";

// ---------------------------------------------------------------- executor kinds shipped with Gantry (for compileWorkflow)
export { builtinExecutorKinds } from "./executors/builtin.js";

// ---------------------------------------------------------------- fake executor
export { createFakeExecutor, fakeExecutors } from "./executors/fake.js";
export type { FakeCall, FakeExecutor, FakeExecutorOptions, FakeMethod } from "./executors/fake.js";

// ---------------------------------------------------------------- store conformance suite
export { describeStoreConformance } from "./store/conformance.js";
export type { StoreFactory, StoreHarness } from "./store/conformance.js";
