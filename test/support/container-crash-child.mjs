// Child process for the prune test (runs the built dist/): sets up a shared
// workspace, an isolated job and an ephemeral container next to it on the
// given engine, prints "ready", then waits to be SIGKILLed.
import { makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo } from "../../dist/executors/conformance.js";
import { createContainerExecutor } from "../../dist/executors/container/index.js";

const [address, runId, image] = process.argv.slice(2);
const shared = makePlanExecutor({
  name: "crash-shared",
  kind: "container",
  options: { image, pull: "never", copyRepo: false, engine: address },
});
const isolated = makePlanExecutor({
  name: "crash-isolated",
  kind: "container",
  options: { image, mode: "isolated", pull: "never", copyRepo: false, engine: address },
});
const a = createContainerExecutor(shared);
const b = createContainerExecutor(isolated);
await a.setupWorkspace(makeWorkspaceInfo(shared, ["j"], { runId }));
await b.setupWorkspace(makeWorkspaceInfo(isolated, ["j"], { runId }));
const job = makeJobInfo(makePlanJob("j", { executor: "crash-isolated" }), { runId });
await b.setupJob(job);
await b.ephemeral(job, image, new AbortController().signal);
process.stdout.write("ready\n");
setInterval(() => undefined, 1000);
