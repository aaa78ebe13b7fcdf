/**
 * Container executor features beyond the conformance suite, on Docker and
 * Podman: ephemeral containers, image builds by content hash, the pull
 * policy, secrets kept out of the create config, users, the repository
 * copy, clear errors, and `gantry doctor --prune` after a SIGKILL.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo } from "gantry/testing";
import type { ExecResult, Executor, JobInfo } from "../../src/core/executor.js";
import { canRunEphemeral } from "../../src/core/ephemeral.js";
import type { EphemeralContainer } from "../../src/core/ephemeral.js";
import { createContainerExecutor, createContainerRuntime, connectEngine } from "../../src/executors/container/index.js";
import { doctorCommand } from "../../src/cli/doctor.js";
import type { CliIo } from "../../src/cli/io.js";
import { BUSYBOX, DEBIAN, NOSHELL, engineForSuite } from "../support/engines.js";
import type { TestEngine } from "../support/engines.js";
import { requireService } from "../support/services.js";

const engines = {
  docker: await engineForSuite("docker", "container features on docker"),
  podman: await engineForSuite("podman", "container features on podman"),
};

const base = mkdtempSync(join(tmpdir(), "gantry-container-test-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
let counter = 0;

async function run(
  executor: { exec: Executor["exec"] },
  job: JobInfo,
  script: string,
  env: Record<string, string> = {},
): Promise<{ result: ExecResult; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const result = await executor.exec(
    job,
    { script, env: { PATH, ...env }, signal: new AbortController().signal, killGraceMs: 500 },
    {
      stdout: (c) => (stdout += c.toString()),
      stderr: (c) => (stderr += c.toString()),
    },
  );
  return { result, stdout, stderr };
}

/** `run` for an ephemeral container (its `exec` takes no job). */
const ephemeralExec = (eph: EphemeralContainer): { exec: Executor["exec"] } => ({ exec: (_job, req, io) => eph.exec(req, io) });

function captureIo(): CliIo & { text: () => string } {
  const lines: string[] = [];
  const id = (s: string): string => s;
  const colors = new Proxy({}, { get: () => id }) as CliIo["color"];
  return { out: (t) => lines.push(t), err: (t) => lines.push(t), color: colors, errColor: colors, text: () => lines.join("\n") };
}

/** Set up a workspace and a job, run `fn`, always clean up. */
async function withJob(
  engine: TestEngine,
  options: Record<string, unknown>,
  fn: (x: Executor & { ephemeral?: unknown }, job: JobInfo) => Promise<void>,
  repoDir?: string,
): Promise<void> {
  const name = `feat-${++counter}`;
  const def = makePlanExecutor({
    name,
    kind: "container",
    options: { image: BUSYBOX, pull: "never", copyRepo: false, engine: engine.address, ...options },
  });
  const executor = createContainerExecutor(def);
  const runId = `feat-${process.pid}-${counter}`;
  const info = { runId, ...(repoDir !== undefined ? { repoDir } : {}), runDir: base };
  const ws = makeWorkspaceInfo(def, ["job"], info);
  const job = makeJobInfo(makePlanJob("job", { executor: name }), info);
  try {
    await executor.setupWorkspace(ws);
    await executor.setupJob(job);
    await fn(executor, job);
  } finally {
    await executor.cleanupJob(job);
    await executor.cleanupWorkspace(ws);
  }
}

for (const kind of ["docker", "podman"] as const) {
  const engine = engines[kind];
  describe.skipIf(!engine)(`container executor on ${kind}`, () => {
    const e = engine as TestEngine;

    it("runs an ephemeral container of another image on the job's files, and removes it", async () => {
      await withJob(e, { image: DEBIAN }, async (executor, job) => {
        await run(executor, job, "echo from-job > shared.txt");
        expect(canRunEphemeral(executor)).toBe(true);
        if (!canRunEphemeral(executor)) return;
        const eph = await executor.ephemeral(job, BUSYBOX, new AbortController().signal);
        let id = "";
        try {
          const r = await run(
            ephemeralExec(eph),
            job,
            "cat shared.txt; test -x /bin/busybox && ! test -e /bin/bash && echo BusyBox; pwd; echo from-ephemeral > back.txt; hostname",
          );
          expect(r.result.exitCode).toBe(0);
          const [content, name, pwd, host] = r.stdout.trim().split("\n");
          expect(content).toBe("from-job");
          expect(name).toBe("BusyBox");
          expect(pwd).toBe((await run(executor, job, "pwd")).stdout.trim());
          id = host ?? "";
        } finally {
          await eph.close();
          await eph.close();
        }
        expect((await run(executor, job, "cat back.txt")).stdout).toBe("from-ephemeral\n");
        const eng = await connectEngine(e.address);
        const left = await eng.docker.listContainers({
          all: true,
          filters: { label: [`gantry.run=${job.runId}`, "gantry.role=ephemeral"] },
        });
        expect(left.filter((c) => c.Id.startsWith(id))).toEqual([]);
      });
    }, 60_000);

    it("runs ephemeral containers on a runner directory (local jobs) with a bind mount", async () => {
      const dir = mkdtempSync(join(base, "local-job-"));
      writeFileSync(join(dir, "in.txt"), "host file\n");
      const runtime = createContainerRuntime({ engine: e.address, pull: "never" });
      const job = makeJobInfo("local-job", { runId: `rt-${process.pid}`, runDir: base });
      const eph = await runtime.ephemeral(job, BUSYBOX, dir, new AbortController().signal);
      try {
        const r = await run(ephemeralExec(eph), job, "cat in.txt; pwd; echo out > out.txt");
        expect(r.stdout).toBe("host file\n/workspace\n");
      } finally {
        await eph.close();
      }
      expect(readFileSync(join(dir, "out.txt"), "utf8")).toBe("out\n");
    }, 60_000);

    it("keeps env and secrets out of the create config and labels", async () => {
      await withJob(e, { env: { PLAIN: "plain-value" } }, async (executor, job) => {
        const r = await run(executor, job, 'echo "$PLAIN $TOKEN"', { TOKEN: "s3cret-token" });
        expect(r.stdout).toBe("plain-value s3cret-token\n");
        const eng = await connectEngine(e.address);
        const list = await eng.docker.listContainers({ all: true, filters: { label: [`gantry.run=${job.runId}`] } });
        expect(list.length).toBe(1);
        const inspected = await eng.docker.getContainer(list[0]!.Id).inspect();
        const text = JSON.stringify({ env: inspected.Config.Env, labels: inspected.Config.Labels, cmd: inspected.Config.Cmd });
        expect(text).not.toContain("s3cret-token");
        expect(text).not.toContain("plain-value");
        expect(inspected.Config.Labels).toMatchObject({
          "gantry.run": job.runId,
          "gantry.executor": job.job.executor,
          "gantry.role": "workspace",
        });
      });
    }, 60_000);

    it("labels isolated job containers with the job, and removes them in cleanupJob", async () => {
      await withJob(e, { mode: "isolated" }, async (executor, job) => {
        const eng = await connectEngine(e.address);
        const list = await eng.docker.listContainers({ all: true, filters: { label: [`gantry.run=${job.runId}`] } });
        expect(list.map((c) => c.Labels["gantry.job"])).toEqual(["job"]);
        await executor.cleanupJob(job);
        expect(await eng.docker.listContainers({ all: true, filters: { label: [`gantry.run=${job.runId}`] } })).toEqual([]);
      });
    }, 60_000);

    it("runs as the configured user, with uploaded files owned by it", async () => {
      await withJob(
        e,
        { user: "65534:65534", copyRepo: true },
        async (executor, job) => {
          const r = await run(executor, job, "id -u; stat -c %u README.md; touch mine && stat -c %u mine");
          expect(r.stdout).toBe("65534\n65534\n65534\n");
        },
        makeRepoDir(),
      );
    }, 60_000);

    it("copies the repository into the job directory", async () => {
      await withJob(
        e,
        { copyRepo: true },
        async (executor, job) => {
          const r = await run(executor, job, "cat README.md; ./bin/run.sh; readlink link");
          expect(r).toMatchObject({ stdout: "readme\nran\nREADME.md\n", result: { exitCode: 0 } });
        },
        makeRepoDir(),
      );
    }, 60_000);

    it("builds an image from a context once, tagged by its content hash", async () => {
      const context = mkdtempSync(join(base, "ctx-"));
      writeFileSync(
        join(context, "Dockerfile"),
        `FROM ${kind === "podman" ? `localhost/${BUSYBOX}` : BUSYBOX}\nARG GREETING\nCOPY hello.txt /hello.txt\nRUN echo "$GREETING" > /greeting.txt\n`,
      );
      const stamp = `${process.pid}-${Date.now()}`;
      writeFileSync(join(context, "hello.txt"), `hello ${stamp}\n`);
      const image = { build: { context, args: { GREETING: "hi" } } };
      const eng = await connectEngine(e.address);
      let tag = "";
      await withJob(e, { image }, async (executor, job) => {
        expect((await run(executor, job, "cat /hello.txt /greeting.txt")).stdout).toBe(`hello ${stamp}\nhi\n`);
        const list = await eng.docker.listContainers({ all: true, filters: { label: [`gantry.run=${job.runId}`] } });
        tag = list[0]!.Image;
      });
      expect(tag).toMatch(/gantry-build\/feat-\d+:[0-9a-f]{16}$/);
      const first = await eng.docker.getImage(tag).inspect();
      // Same context, another executor name: a different tag, but an unchanged context for the same name is not rebuilt.
      const def = makePlanExecutor({
        name: tag.split("/")[1]!.split(":")[0]!,
        kind: "container",
        options: { image, pull: "never", copyRepo: false, engine: e.address },
      });
      const again = createContainerExecutor(def);
      const ws = makeWorkspaceInfo(def, [], { runId: `again-${process.pid}-${counter}`, runDir: base });
      try {
        await again.setupWorkspace(ws);
      } finally {
        await again.cleanupWorkspace(ws);
      }
      expect((await eng.docker.getImage(tag).inspect()).Id).toBe(first.Id);
      writeFileSync(join(context, "Dockerfile"), "FROM scratch-does-not-exist-gantry\n");
      const broken = createContainerExecutor(
        makePlanExecutor({ name: "broken-build", kind: "container", options: { image, pull: "never", engine: e.address } }),
      );
      const bws = makeWorkspaceInfo(makePlanExecutor({ name: "broken-build" }), [], { runId: `broken-${process.pid}`, runDir: base });
      await expect(broken.setupWorkspace(bws)).rejects.toThrow(/image build of .*ctx-.* on (docker|podman) .*: build failed/);
      await broken.cleanupWorkspace(bws);
      await eng.docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => undefined);
    }, 180_000);

    it("says clearly when an image is missing, cannot be pulled, or has no /bin/sh", async () => {
      const attempt = async (options: Record<string, unknown>): Promise<string> => {
        const def = makePlanExecutor({
          name: `err-${++counter}`,
          kind: "container",
          options: { engine: e.address, copyRepo: false, ...options },
        });
        const executor = createContainerExecutor(def);
        const ws = makeWorkspaceInfo(def, [], { runId: `err-${process.pid}-${counter}`, runDir: base });
        try {
          await executor.setupWorkspace(ws);
          return "no error";
        } catch (error) {
          expect((error as { code?: string }).code).toBe("EXECUTOR_FAILED");
          return (error as Error).message;
        } finally {
          await executor.cleanupWorkspace(ws);
        }
      };
      expect(await attempt({ image: "gantry-test/missing:1", pull: "never" })).toMatch(
        /^image gantry-test\/missing:1 on (docker|podman) \S+ at unix:\/\/\S+: not present and the pull policy is "never"/,
      );
      expect(await attempt({ image: "gantry-test/missing:1", pull: "missing" })).toMatch(
        /^image gantry-test\/missing:1 on .*: pull failed: .*check the name and tag/,
      );
      expect(await attempt({ image: NOSHELL, pull: "never" })).toBe(
        `image ${NOSHELL} has no /bin/sh; the container executor runs every step through a POSIX shell, so use an image with one (e.g. a -slim or busybox-based variant)`,
      );
      const eng = await connectEngine(e.address);
      const left = await eng.docker.listContainers({ all: true, filters: { label: ["gantry.executor"] } });
      expect(left.filter((c) => c.Labels["gantry.run"]?.startsWith(`err-${process.pid}-`))).toEqual([]);
    }, 120_000);

    it("gantry doctor --prune removes what a SIGKILLed process left, and keeps live runs", async () => {
      const runId = `crash-${process.pid}-${kind}`;
      const script = resolve(import.meta.dirname, "../support/container-crash-child.mjs");
      const child = spawn(process.execPath, [script, e.address, runId, BUSYBOX], { stdio: ["ignore", "pipe", "inherit"] });
      await new Promise<void>((ok, fail) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes("ready")) ok();
        });
        child.on("exit", (code) => fail(new Error(`child exited early (${code}): ${out}`)));
      });
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      const eng = await connectEngine(e.address);
      const mine = async (): Promise<number> =>
        (await eng.docker.listContainers({ all: true, filters: { label: [`gantry.run=${runId}`] } })).length +
        ((await eng.docker.listVolumes({ filters: { label: [`gantry.run=${runId}`] } })).Volumes ?? []).filter(
          (v) => v.Labels?.["gantry.run"] === runId,
        ).length;
      expect(await mine()).toBeGreaterThanOrEqual(4); // workspace container, isolated job container, ephemeral container, volume
      const roles = (await eng.docker.listContainers({ all: true, filters: { label: [`gantry.run=${runId}`] } })).map(
        (c) => c.Labels["gantry.role"],
      );
      expect(roles.sort()).toEqual(["ephemeral", "job", "workspace"]);
      // A live run of this process survives the prune.
      await withJob(e, {}, async (executor, job) => {
        const io = captureIo();
        expect(await doctorCommand({ engine: e.address, prune: true }, io)).toBe(0);
        expect(io.text()).toMatch(/container engine: (docker|podman)/);
        expect(io.text()).toMatch(/pruned [1-9]\d* container\(s\)/);
        expect(await mine()).toBe(0);
        expect((await run(executor, job, "echo alive")).stdout).toBe("alive\n");
      });
    }, 120_000);
  });
}

describe("engine discovery errors", () => {
  it("names every candidate and what to do when no engine answers", async () => {
    const io = captureIo();
    const missing = join(base, "no-such.sock");
    expect(await doctorCommand({ engine: missing }, io)).toBe(1);
    expect(io.text()).toBe(
      `no container engine reachable: ${missing} (option): socket does not exist; start that engine or change the executor's engine option (${JSON.stringify(missing)})`,
    );
    const sock = join(base, "not-a-socket.sock");
    writeFileSync(sock, "");
    const def = makePlanExecutor({ name: "none", kind: "container", options: { image: BUSYBOX, engine: sock } });
    await expect(createContainerExecutor(def).setupWorkspace(makeWorkspaceInfo(def, []))).rejects.toThrow(
      /^no container engine reachable: .*not-a-socket\.sock \(option\): not running/,
    );
  });

  it("reports permission denied on the socket", async (ctx) => {
    const missing = await requireService("root", "the socket permission test (it probes as nobody)");
    ctx.skip(missing !== undefined, missing);
    const dir = join(base, "locked");
    mkdirSync(dir, { mode: 0o700 });
    const sock = join(dir, "docker.sock");
    writeFileSync(sock, "");
    // As root nothing is denied; run the probe as nobody.
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import("${resolve(import.meta.dirname, "../../dist/executors/container/engine.js")}").then(async (m) => { const p = await m.probeEngines(${JSON.stringify(sock)}, {}); console.log(m.noEngineMessage(p, ${JSON.stringify(sock)})); })`,
      ],
      { uid: 65534, gid: 65534, stdio: ["ignore", "pipe", "pipe"], cwd: tmpdir() },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    await new Promise((r) => child.once("exit", r));
    expect(out.trim()).toMatch(/permission denied on the socket; run as a user allowed to use the socket/);
  });
});

function makeRepoDir(): string {
  const repo = mkdtempSync(join(base, "repo-"));
  writeFileSync(join(repo, "README.md"), "readme\n");
  mkdirSync(join(repo, "bin"));
  writeFileSync(join(repo, "bin/run.sh"), "#!/bin/sh\necho ran\n", { mode: 0o755 });
  spawn("ln", ["-s", "README.md", join(repo, "link")]);
  return repo;
}
