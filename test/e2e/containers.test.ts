/**
 * The container example and container bad input through the real CLI
 * (`node bin/gantry.js run`), on Docker and on Podman: the engine is chosen
 * with DOCKER_HOST, job statuses come from the `--log-format json` events,
 * and the engine is asked afterwards whether any gantry-labelled container
 * or volume of the run is left.
 */
import { spawn } from "node:child_process";
import { chownSync, cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connectEngine } from "../../src/executors/container/index.js";
import { cliPath, gantry, repoRoot, tempDir } from "../cli/helpers.js";
import { BUSYBOX, NOSHELL, engineForSuite, type TestEngine } from "../support/engines.js";
import { requireService } from "../support/services.js";

const engines = {
  docker: await engineForSuite("docker", "container CLI runs on docker"),
  podman: await engineForSuite("podman", "container CLI runs on podman"),
};

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const scratch = (prefix: string): string => {
  const dir = tempDir(prefix);
  dirs.push(dir);
  return dir;
};

type Event = Record<string, unknown> & { type: string };

function eventsOf(stdout: string): Event[] {
  return stdout
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Event);
}

function jobStatuses(events: readonly Event[]): Record<string, unknown> {
  return Object.fromEntries(events.filter((e) => e.type === "job.finished").map((e) => [e.jobId, e.status]));
}

async function leftovers(e: TestEngine, runId: string): Promise<string[]> {
  const eng = await connectEngine(e.address);
  const filters = { label: [`gantry.run=${runId}`] };
  const containers = await eng.docker.listContainers({ all: true, filters });
  const volumes = (await eng.docker.listVolumes({ filters })).Volumes ?? [];
  return [...containers.map((c) => `container ${c.Names.join(",")}`), ...volumes.map((v) => `volume ${v.Name}`)];
}

const noStack = (text: string): void => {
  expect(text).not.toMatch(/^\s+at .+[:(]\d+/m);
};

for (const kind of ["docker", "podman"] as const) {
  const engine = engines[kind];
  describe.skipIf(!engine)(`container workflows through the CLI on ${kind}`, () => {
    // The body of a skipped describe still runs at collection: nothing here may assume the engine.
    const e = engine as TestEngine;
    const env = { DOCKER_HOST: engine?.address ?? "" };

    it("runs examples/containers.ts green and leaves no container behind", async () => {
      const dir = scratch("containers");
      mkdirSync(join(dir, "examples"));
      cpSync(join(repoRoot, "examples", "containers.ts"), join(dir, "examples", "containers.ts"));
      const r = await gantry(["run", "-f", "examples/containers.ts", "--log-format", "json"], { cwd: dir, env });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const events = eventsOf(r.stdout);
      const statuses = jobStatuses(events);
      expect(Object.keys(statuses).sort()).toEqual(expect.arrayContaining(["build", "package", "verify"]));
      expect(Object.keys(statuses).filter((id) => id.startsWith("test")).length).toBe(2);
      expect(new Set(Object.values(statuses))).toEqual(new Set(["success"]));
      const lines = events.filter((ev) => ev.type === "log" && ev.jobId === "verify").flatMap((ev) => ev.lines as string[]);
      expect(lines).toEqual(expect.arrayContaining(["app.tar: OK", expect.stringMatching(/^built on debian with bash \d/)]));
      const runId = events.find((ev) => ev.type === "run.started")?.runId as string;
      // Where each job ran: the engine and the container (shared mode: one container for build and package).
      const where = new Map(events.filter((ev) => ev.type === "job.location").map((ev) => [ev.jobId as string, ev.location as string]));
      for (const id of Object.keys(statuses).filter((j) => j !== "verify"))
        expect(where.get(id), id).toMatch(new RegExp(`^${kind} container [0-9a-f]{12}$`));
      expect(where.get("build")).toBe(where.get("package"));
      expect(where.get("test (shard=1)")).not.toBe(where.get("test (shard=2)"));
      expect(await leftovers(e, runId)).toEqual([]);
      // The store has the ephemeral containers' output in the step's log, like any process's.
      const logs = await gantry(["logs", runId, "-j", "verify"], { cwd: dir });
      expect(logs.code).toBe(0);
      expect(logs.stdout).toContain("app.tar: OK");
      const pkg = await gantry(["logs", runId, "-j", "package"], { cwd: dir });
      expect(pkg.stdout).toContain("packaged 2 entries");
      expect(pkg.stdout).toMatch(/[0-9a-f]{64} {2}app\.tar/);
    }, 240_000);

    it("bad input gives one clear sentence, exit 1 (exit 2 at plan time for an engine that does not answer), no stack trace", async () => {
      const dir = scratch("containers-bad");
      writeFileSync(
        join(dir, "bad.ts"),
        `import { executors, job, sh, workflow } from "gantry";
const box = executors.container({ image: ${JSON.stringify(BUSYBOX)}, pull: "never", copyRepo: false });
export default workflow({
  name: "bad",
  jobs: {
    missing: job({ executor: executors.container({ image: "gantry-test/missing:1", pull: "never", copyRepo: false }), steps: [sh\`true\`] }),
    noshell: job({ executor: executors.container({ image: ${JSON.stringify(NOSHELL)}, pull: "never", copyRepo: false }), steps: [sh\`true\`] }),
    eph: job({ executor: box, steps: [async (ctx) => { await ctx.container("gantry-test/missing:1", async () => undefined); }] }),
    step: job({ executor: executors.local({ copyRepo: false }), steps: [sh.with({ container: ${JSON.stringify(NOSHELL)} })\`true\`] }),
    engine: job({ executor: executors.container({ image: ${JSON.stringify(BUSYBOX)}, engine: ${JSON.stringify(join(dir, "no.sock"))} }), steps: [sh\`true\`] }),
  },
});
`,
      );
      // An engine that does not answer is refused before anything starts (the kind's probe).
      const refused = await gantry(["run", "-f", "bad.ts", "--log-format", "json", "--no-fail-fast"], { cwd: dir, env });
      expect(refused.code).toBe(2);
      noStack(refused.stdout + refused.stderr);
      expect(refused.stdout).toBe("");
      expect(refused.stderr).toContain(
        `(container) cannot run here: no container engine reachable: ${join(dir, "no.sock")} (option): socket does not exist; start that engine`,
      );
      const jobs = ["missing", "noshell", "eph", "step"].flatMap((j) => ["-j", j]);
      const r = await gantry(["run", "-f", "bad.ts", "--log-format", "json", "--no-fail-fast", ...jobs], { cwd: dir, env });
      expect(r.code).toBe(1);
      noStack(r.stdout + r.stderr);
      const events = eventsOf(r.stdout);
      expect(jobStatuses(events)).toEqual({ missing: "failure", noshell: "failure", eph: "failure", step: "failure" });
      const reasons = Object.fromEntries(events.filter((ev) => ev.type === "job.finished").map((ev) => [ev.jobId, ev.reason]));
      const missing = `image gantry-test/missing:1 on ${kind} `;
      expect(reasons.missing).toContain(missing);
      expect(reasons.missing).toContain('not present and the pull policy is "never"');
      expect(reasons.eph).toContain(missing);
      expect(reasons.noshell).toContain(`image ${NOSHELL} has no /bin/sh; the container executor runs every step through a POSIX shell`);
      expect(reasons.step).toContain(`image ${NOSHELL} has no /bin/sh`);
      const runId = events.find((ev) => ev.type === "run.started")?.runId as string;
      expect(await leftovers(e, runId)).toEqual([]);
    }, 240_000);
  });
}

describe("container engine socket without permission, through the CLI", () => {
  it("says permission denied and what to do, exit 2 at plan time, no stack trace", async (ctx) => {
    const missing = await requireService("root", "the permission-denied CLI test (it runs gantry as nobody)");
    ctx.skip(missing !== undefined, missing);
    const dir = scratch("containers-perm");
    chownSync(dir, 65534, 65534);
    const locked = join(dir, "locked");
    mkdirSync(locked, { mode: 0o700 });
    const sock = join(locked, "docker.sock");
    writeFileSync(sock, "");
    writeFileSync(
      join(dir, "perm.ts"),
      `import { executors, job, sh, workflow } from "gantry";
export default workflow({
  name: "perm",
  jobs: { a: job({ executor: executors.container({ image: ${JSON.stringify(BUSYBOX)}, engine: ${JSON.stringify(sock)} }), steps: [sh\`true\`] }) },
});
`,
    );
    chownSync(join(dir, "perm.ts"), 65534, 65534);
    const child = spawn(process.execPath, [cliPath, "run", "-f", "perm.ts", "--log-format", "json"], {
      cwd: dir,
      uid: 65534,
      gid: 65534,
      env: { PATH: process.env.PATH, NO_COLOR: "1", HOME: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const code = await new Promise<number | null>((ok) => child.on("close", ok));
    expect(code).toBe(2);
    noStack(stdout + stderr);
    expect(stdout).toBe("");
    expect(stderr).toContain(
      `no container engine reachable: ${sock} (option): permission denied on the socket; run as a user allowed to use the socket`,
    );
  }, 60_000);
});
