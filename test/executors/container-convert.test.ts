/**
 * The pure parts of the container executor, without a daemon: create and
 * exec specs, labels, names, engine candidates (golden files), the
 * multiplexed-stream demuxer, and the wrapper run by a real local shell.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makePlanExecutor } from "gantry/testing";
import {
  WRAPPER_SCRIPT,
  containerOptions,
  engineCandidates,
  jobDir,
  jobDirName,
  labelsFor,
  toCreateOptions,
  toExecOptions,
} from "../../src/executors/container/index.js";
import { buildTag, labelFilters, labelsMatch, objectName, prepareArgs, toKillOptions } from "../../src/executors/container/convert.js";
import { Demuxer } from "../../src/executors/container/exec.js";
import { noEngineMessage, probeEngines } from "../../src/executors/container/engine.js";

const golden = (name: string): string => join(import.meta.dirname, "golden", "container", name);

async function expectGolden(name: string, value: unknown): Promise<void> {
  await expect(`${JSON.stringify(value, null, 2)}\n`).toMatchFileSnapshot(golden(name));
}

describe("container convert", () => {
  const options = containerOptions(
    makePlanExecutor({
      name: "node",
      kind: "container",
      options: {
        image: "node:20",
        mode: "isolated",
        env: { CI: "true" },
        mounts: [{ source: "/cache", target: "/root/.npm" }],
        user: "1000:1000",
        network: "none",
        pull: "always",
      },
    }),
  );

  it("applies defaults to plan options", async () => {
    await expectGolden("options.json", {
      full: options,
      minimal: containerOptions(makePlanExecutor({ name: "m", kind: "container", options: { image: "busybox" } })),
    });
  });

  it("refuses a missing image and a relative workdir", () => {
    expect(() => containerOptions(makePlanExecutor({ name: "x", kind: "container", options: {} }))).toThrow(
      /executor "x": image: required, but missing/,
    );
    expect(() => containerOptions(makePlanExecutor({ name: "x", kind: "container", options: { image: "a", workdir: "rel" } }))).toThrow(
      /workdir: must be an absolute/,
    );
    expect(() =>
      containerOptions(
        makePlanExecutor({ name: "x", kind: "container", options: { image: "a", mounts: [{ source: "/a", target: "b" }] } }),
      ),
    ).toThrow(/mounts\[0\]\.target/);
  });

  it("builds the create spec of a job container: labels, no env", async () => {
    const labels = labelsFor({ runId: "run-1", executor: "node", role: "job", jobId: "test (node=20)", owner: "host:42" });
    const spec = toCreateOptions({
      name: objectName({ runId: "run-1", executor: "node", jobId: "test (node=20)" }, "abcd1234"),
      image: "node:20",
      labels,
      workspace: { kind: "volume", name: "gantry-run-1-node-0000" },
      workspaceTarget: options.workdir,
      workingDir: options.workdir,
      mounts: options.mounts,
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.network !== undefined ? { network: options.network } : {}),
    });
    expect(JSON.stringify(spec)).not.toContain("CI");
    expect(spec).not.toHaveProperty("Env");
    await expectGolden("create-job.json", spec);
    await expectGolden(
      "create-bind.json",
      toCreateOptions({
        name: "n",
        image: "alpine",
        labels: {},
        workspace: { kind: "bind", hostPath: "/tmp/job" },
        workspaceTarget: "/workspace",
        workingDir: "/workspace",
        mounts: [],
      }),
    );
  });

  it("puts env only in the exec spec, and the request under the wrapper", async () => {
    await expectGolden(
      "exec-script.json",
      toExecOptions({
        execId: "x1",
        script: "npm test",
        env: { CI: "true", TOKEN: "s3cret" },
        workingDir: "/workspace/jobs/a",
        graceMs: 2000,
      }),
    );
    await expectGolden(
      "exec-argv.json",
      toExecOptions({
        execId: "x2",
        argv: ["printf", "%s", "a b"],
        env: {},
        workingDir: "/w",
        graceMs: 10,
        stdinPath: "/.gantry/x2.stdin",
        user: "node",
      }),
    );
    await expectGolden("kill.json", toKillOptions("x1", 300));
    expect(() => toExecOptions({ execId: "x", env: {}, workingDir: "/", graceMs: 1 })).toThrow(/neither/);
    expect(() => toExecOptions({ execId: "x", script: "a", argv: ["b"], env: {}, workingDir: "/", graceMs: 1 })).toThrow(/both/);
  });

  it("names jobs, objects and builds stably", async () => {
    await expectGolden("names.json", {
      jobDirs: ["build", "test (node=20, os=bookworm)", "test-node-20-os-bookworm", "../evil", "ÄÖ"].map((id) => [
        id,
        jobDirName(id),
        jobDir("/workspace", id),
      ]),
      object: objectName({ runId: "2024-01-01T00:00:00Z-abc", executor: "Node 20!", jobId: "test (node=20)" }, "ffff0000"),
      build: buildTag("My Executor", "a".repeat(64)),
      filters: labelFilters({ runId: "r", executor: "e" }),
    });
  });

  it("matches labels client-side", () => {
    const labels = labelsFor({ runId: "r", executor: "e", role: "job", jobId: "j", owner: "h:1" });
    expect(labelsMatch(labels, { runId: "r", executor: "e" })).toBe(true);
    expect(labelsMatch(labels, { runId: "r", jobId: "k" })).toBe(false);
    expect(labelsMatch({}, {})).toBe(false);
  });

  it("lists directories before leaves for the upload preparation", () => {
    expect(prepareArgs(["a/b"], ["a/b/c.txt", "x/y", "top"])).toEqual(["d:a", "d:a/b", "d:x", "l:a/b/c.txt", "l:x/y", "l:top"]);
  });

  it("a set DOCKER_HOST is the only candidate: a dead one is an error that names it, not a switch to a local engine", async () => {
    const probes = await probeEngines(undefined, { DOCKER_HOST: "unix:///nonexistent/gantry/docker.sock" });
    expect(probes.map((p) => [p.source, p.ok])).toEqual([["DOCKER_HOST", false]]);
    expect(noEngineMessage(probes, undefined)).toMatch(
      /^no container engine reachable: \/nonexistent\/gantry\/docker\.sock \(DOCKER_HOST\): [^;]+; start that engine, or point DOCKER_HOST at one that runs \(unset it to use the local sockets\)$/,
    );
  });

  it("finds engine candidates in order", async () => {
    await expectGolden("engines.json", {
      none: engineCandidates(undefined, {}),
      dockerHost: engineCandidates(undefined, { DOCKER_HOST: "tcp://10.0.0.1:2375", XDG_RUNTIME_DIR: "/run/user/1000" }),
      podman: engineCandidates("podman", { XDG_RUNTIME_DIR: "/run/user/1000" }),
      docker: engineCandidates("docker", {}),
      path: engineCandidates("/srv/docker.sock", {}),
    });
  });
});

describe("demuxer", () => {
  const frame = (type: number, text: string): Buffer => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = type;
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };

  it("splits frames however the chunks are cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(1, 2), fc.string({ minLength: 0, maxLength: 20 })), { maxLength: 10 }),
        fc.array(fc.nat(50), { maxLength: 8 }),
        (frames, cuts) => {
          const all = Buffer.concat(frames.map(([t, s]) => frame(t, s)));
          const out: Buffer[] = [];
          const err: Buffer[] = [];
          const d = new Demuxer(
            (c) => out.push(c),
            (c) => err.push(c),
          );
          const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          let prev = 0;
          for (const p of [...points, all.length]) {
            d.push(all.subarray(prev, p));
            prev = p;
          }
          expect(Buffer.concat(out).toString()).toBe(
            frames
              .filter(([t]) => t === 1)
              .map(([, s]) => s)
              .join(""),
          );
          expect(Buffer.concat(err).toString()).toBe(
            frames
              .filter(([t]) => t === 2)
              .map(([, s]) => s)
              .join(""),
          );
          expect(d.pending).toBe(0);
        },
      ),
    );
  });
});

describe("exec wrapper (run by the local shell)", () => {
  const dir = mkdtempSync(join(tmpdir(), "gantry-wrapper-"));
  const run = (mode: string, args: string[], grace = "500") =>
    spawnSync("/bin/sh", ["-c", WRAPPER_SCRIPT, "gantry", join(dir, "pid"), grace, "", mode, ...args], { encoding: "utf8" });

  it("runs scripts with pipefail and returns their status", () => {
    expect(run("script", ["echo hi; exit 3"])).toMatchObject({ status: 3, stdout: "hi\n" });
    expect(run("script", ["false | true; echo after"]).status).not.toBe(0);
  });

  it("runs argv without a shell and reports a missing program as 127", () => {
    expect(run("argv", ["printf", "%s|%s", "a b", "$HOME"])).toMatchObject({ status: 0, stdout: "a b|$HOME" });
    expect(run("argv", ["/nonexistent/program"]).status).toBe(127);
  });

  it("reports death by a signal as 128+N, without a Terminated notice", () => {
    const r = run("script", ["kill -KILL $$"]);
    expect(r.status).toBe(137);
    expect(r.stderr).not.toMatch(/Killed|Terminated/);
  });

  it("ends what the process left in its group and removes the pid file", () => {
    const r = run("script", ["sleep 1000 & echo $! > " + join(dir, "bg.pid")], "200");
    expect(r.status).toBe(0);
    const pid = Number(readFileSync(join(dir, "bg.pid"), "utf8"));
    let alive = true;
    try {
      process.kill(pid, 0);
      const state = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0];
      alive = state !== "Z";
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);
    expect(() => readFileSync(join(dir, "pid"))).toThrow();
    rmSync(dir, { recursive: true, force: true });
  });
});
