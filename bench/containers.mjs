// Container executor benchmarks, per engine (Docker, Podman), side by side
// with the raw Engine API operation in the same run:
//   (a) per-step overhead of a 100-step job in shared mode vs 100 raw exec
//       calls (create + start attached + inspect) on the same container;
//   (b) isolated job start (setupJob + cleanupJob: create, start, prepare,
//       remove) vs raw create + start + wait + remove of the same image.
// Targets: (a) <= 1.2x, (b) <= 1.2x. An engine that is not reachable is
// reported as "not measured". Needs the test images (scripts/build-test-images.sh).
import { tmpdir } from "node:os";
import { makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo } from "../dist/executors/conformance.js";
import { createContainerExecutor } from "../dist/executors/container/index.js";
import { clientFor, probeEngine } from "../dist/executors/container/engine.js";
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const IMAGE = "gantry-test/busybox:1";
const STEPS = 100;
const ROUNDS = 3;
const ENGINES = [
  ["docker", "unix:///var/run/docker.sock"],
  ["podman", "unix:///run/podman/podman.sock"],
];
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const sink = { stdout() {}, stderr() {} };

async function rawExec(container) {
  const exec = await container.exec({
    Cmd: ["/bin/sh", "-c", "true"],
    AttachStdout: true,
    AttachStderr: true,
    Env: [`PATH=${PATH}`],
    WorkingDir: "/",
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise((resolve, reject) => {
    stream.on("data", () => {});
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  for (;;) {
    const info = await exec.inspect();
    if (!info.Running) return info.ExitCode;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function rawStart(docker) {
  const container = await docker.createContainer({ Image: IMAGE, Cmd: ["/bin/sh", "-c", "true"], Labels: { "gantry.bench": "raw" } });
  await container.start();
  await container.wait();
  await container.remove({ force: true });
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function benchEngine(kind, address) {
  const docker = clientFor(address);
  const runId = `bench-${process.pid}-${kind}`;
  const opts = { image: IMAGE, pull: "never", copyRepo: false, engine: address };
  const sharedDef = makePlanExecutor({ name: "bench-shared", kind: "container", options: opts });
  const isoDef = makePlanExecutor({ name: "bench-isolated", kind: "container", options: { ...opts, mode: "isolated" } });
  const shared = createContainerExecutor(sharedDef);
  const isolated = createContainerExecutor(isoDef);
  const info = { runId, runDir: tmpdir() };
  const wsShared = makeWorkspaceInfo(sharedDef, ["steps"], info);
  const wsIso = makeWorkspaceInfo(isoDef, ["start"], info);
  const stepsJob = makeJobInfo(makePlanJob("steps", { executor: "bench-shared" }), info);
  const rows = [];
  try {
    await shared.setupWorkspace(wsShared);
    await shared.setupJob(stepsJob);
    const list = await docker.listContainers({ filters: { label: [`gantry.run=${runId}`, "gantry.role=workspace"] } });
    const container = docker.getContainer(list[0].Id);
    const signal = new AbortController().signal;
    const gantryStep = () => shared.exec(stepsJob, { script: "true", env: { PATH }, signal }, sink);
    // Warm up both paths.
    for (let i = 0; i < 5; i++) {
      await gantryStep();
      await rawExec(container);
    }
    const g = [];
    const r = [];
    for (let round = 0; round < ROUNDS; round++) {
      r.push(
        await timed(async () => {
          for (let i = 0; i < STEPS; i++) await rawExec(container);
        }),
      );
      g.push(
        await timed(async () => {
          for (let i = 0; i < STEPS; i++) await gantryStep();
        }),
      );
    }
    rows.push({
      name: `${kind}: shared-mode step (per step, ${STEPS}-step job)`,
      gantryMs: median(g) / STEPS,
      rawMs: median(r) / STEPS,
      target: 1.2,
    });

    await isolated.setupWorkspace(wsIso);
    const gi = [];
    const ri = [];
    await rawStart(docker);
    for (let round = 0; round < ROUNDS + 2; round++) {
      ri.push(await timed(() => rawStart(docker)));
      const job = makeJobInfo(makePlanJob("start", { executor: "bench-isolated" }), { ...info, attempt: round + 1 });
      gi.push(
        await timed(async () => {
          await isolated.setupJob(job);
          await isolated.cleanupJob(job);
        }),
      );
    }
    rows.push({ name: `${kind}: isolated job start (setup + cleanup)`, gantryMs: median(gi), rawMs: median(ri), target: 1.2 });
  } finally {
    await shared.cleanupJob(stepsJob).catch(() => {});
    await shared.cleanupWorkspace({ ...wsShared, signal: new AbortController().signal }).catch(() => {});
    await isolated.cleanupWorkspace({ ...wsIso, signal: new AbortController().signal }).catch(() => {});
  }
  return rows;
}

export async function benchmarks() {
  const rows = [];
  for (const [kind, address] of ENGINES) {
    const probe = await probeEngine({ source: "bench", address });
    if (!probe.ok || probe.kind !== kind) {
      rows.push({
        name: `${kind}: not measured (${probe.reason ?? `answers as ${probe.kind}`})`,
        gantry: "-",
        raw: "-",
        ratio: NaN,
        target: "-",
        ok: false,
      });
      continue;
    }
    rows.push(...(await benchEngine(kind, address)));
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await benchmarks()) {
    if ("gantryMs" in r)
      console.log(
        `${r.name}: gantry ${r.gantryMs.toFixed(1)} ms, raw ${r.rawMs.toFixed(1)} ms, ratio ${(r.gantryMs / r.rawMs).toFixed(2)} (target <= ${r.target})`,
      );
    else console.log(r.name);
  }
}
