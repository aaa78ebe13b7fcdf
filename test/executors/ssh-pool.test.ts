/**
 * Pool mode over three real sshd servers: jobs spread by load, a server that
 * dies mid-run fails only its job (retryable) and the next attempt runs on
 * another host. Which host ran a job is read twice: from the executor
 * (`hostOf`) and from the host side (`SSH_CONNECTION` names the server port).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GantryError } from "../../src/core/errors.js";
import type { ExecResult, JobInfo } from "../../src/core/executor.js";
import { makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo } from "gantry/testing";
import { createSshExecutor } from "../../src/executors/ssh/index.js";
import type { SshExecutor } from "../../src/executors/ssh/index.js";
import { requireService } from "../support/services.js";
import { startSshdFixture } from "../support/sshd.js";
import type { SshdFixture } from "../support/sshd.js";

const skip = await requireService("sshd", "ssh executor pool tests");

interface Ran {
  readonly result: ExecResult;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(executor: SshExecutor, job: JobInfo, script: string, onOut?: (all: string) => void): Promise<Ran> {
  let stdout = "";
  let stderr = "";
  const result = await executor.exec(
    job,
    { script, env: { PATH: "/usr/local/bin:/usr/bin:/bin" }, signal: new AbortController().signal, killGraceMs: 1000 },
    {
      stdout: (chunk) => {
        stdout += chunk.toString();
        onOut?.(stdout);
      },
      stderr: (chunk) => (stderr += chunk.toString()),
    },
  );
  return { result, stdout, stderr };
}

/** Wait until `check` holds, polling (for things that settle on the host side). */
async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip)("ssh executor: pool mode over three servers", () => {
  let f: SshdFixture;
  let repo: string;

  beforeAll(async () => {
    f = await startSshdFixture({ count: 3 });
    repo = await mkdtemp(join(tmpdir(), "gantry-ssh-repo-"));
    await writeFile(join(repo, "README.md"), "pool test repo\n");
  });

  afterAll(async () => {
    await f?.close();
    if (repo) await rm(repo, { recursive: true, force: true });
  });

  const poolExecutor = (
    name: string,
    seen?: Array<[string, string]>,
  ): { executor: SshExecutor; def: ReturnType<typeof makePlanExecutor> } => {
    const def = makePlanExecutor({
      name,
      kind: "ssh",
      options: { hosts: f.servers.map((s) => s.alias), mode: "pool", knownHosts: f.knownHosts, workspaceDir: join(f.dir, `work-${name}`) },
    });
    const executor = createSshExecutor(def, {
      sshConfigFile: f.sshConfig,
      authSock: "",
      ...(seen && { onHost: (job, host) => seen.push([job.job.id, host]) }),
    });
    return { executor, def };
  };

  it("spreads six jobs over all three hosts, two each, and each ran where hostOf says", async () => {
    const seen: Array<[string, string]> = [];
    const { executor, def } = poolExecutor("spread", seen);
    const ids = Array.from({ length: 6 }, (_, i) => `build (n=${i})`);
    const runId = "pool-spread";
    const ws = makeWorkspaceInfo(def, ids, { runId, repoDir: repo, runDir: f.dir });
    await executor.setupWorkspace(ws);
    try {
      const results = await Promise.all(
        ids.map(async (id) => {
          const job = makeJobInfo(makePlanJob(id, { executor: def.name }), { runId, repoDir: repo, runDir: f.dir });
          await executor.setupJob(job);
          try {
            const ran = await run(executor, job, 'cat README.md; echo "$SSH_CONNECTION" | cut -d" " -f4; sleep 0.3');
            return { id, host: executor.hostOf(job), ...ran };
          } finally {
            await executor.cleanupJob(job);
          }
        }),
      );
      const perHost = new Map<string, number>();
      for (const r of results) {
        expect(r.result, r.stderr).toMatchObject({ exitCode: 0 });
        const [readme, port] = r.stdout.trim().split("\n");
        expect(readme).toBe("pool test repo");
        const server = f.servers.find((s) => s.alias === r.host);
        expect(server, `job ${r.id} on ${r.host}`).toBeDefined();
        expect(Number(port)).toBe(server!.port);
        perHost.set(r.host!, (perHost.get(r.host!) ?? 0) + 1);
      }
      expect([...perHost.keys()].sort()).toEqual(f.servers.map((s) => s.alias).sort());
      expect([...perHost.values()]).toEqual([2, 2, 2]);
      expect(seen.map(([, host]) => host).sort()).toEqual(results.map((r) => r.host).sort());
    } finally {
      await executor.cleanupWorkspace({ ...ws, signal: new AbortController().signal });
    }
    // Nothing is left running on any host: no sessions below the listeners.
    for (const s of f.servers) await eventually(() => s.descendants().length === 0, `${s.alias} to have no sessions`);
  });

  it("respects maxJobsPerHost: a third job waits for a free slot", async () => {
    const def = makePlanExecutor({
      name: "capped",
      kind: "ssh",
      options: {
        hosts: [f.servers[0]!.alias],
        mode: "pool",
        maxJobsPerHost: 2,
        knownHosts: f.knownHosts,
        workspaceDir: join(f.dir, "work-capped"),
        copyRepo: false,
      },
    });
    const executor = createSshExecutor(def, { sshConfigFile: f.sshConfig, authSock: "" });
    const runId = "pool-capped";
    const jobs = ["a", "b", "c"].map((id) => makeJobInfo(makePlanJob(id, { executor: def.name }), { runId, runDir: f.dir }));
    const order: string[] = [];
    try {
      await executor.setupJob(jobs[0]!);
      await executor.setupJob(jobs[1]!);
      const third = executor.setupJob(jobs[2]!).then(() => order.push("c set up"));
      // Taking a free slot needs no I/O: one turn of the event loop lets a job that got a host record it.
      await new Promise((r) => setImmediate(r));
      expect(executor.hostOf(jobs[2]!)).toBeUndefined();
      order.push("a cleaned");
      await executor.cleanupJob(jobs[0]!);
      await third;
      expect(order).toEqual(["a cleaned", "c set up"]);
    } finally {
      for (const job of jobs) await executor.cleanupJob(job);
      await executor.cleanupWorkspace(makeWorkspaceInfo(def, [], { runId, runDir: f.dir }));
    }
  });

  it("fails only the job of a server that dies mid-run (retryable), and its next attempt runs on another host", async () => {
    const { executor, def } = poolExecutor("dies");
    const runId = "pool-dies";
    const ids = ["one", "two", "three"];
    const ws = makeWorkspaceInfo(def, ids, { runId, repoDir: repo, runDir: f.dir });
    await executor.setupWorkspace(ws);
    const victim = f.servers[1]!;
    try {
      const jobs = ids.map((id) => makeJobInfo(makePlanJob(id, { executor: def.name }), { runId, repoDir: repo, runDir: f.dir }));
      await Promise.all(jobs.map((job) => executor.setupJob(job)));
      expect(jobs.map((j) => executor.hostOf(j)).sort()).toEqual(f.servers.map((s) => s.alias).sort());
      const doomed = jobs.find((j) => executor.hostOf(j) === victim.alias)!;

      let readyCount = 0;
      let allReady!: () => void;
      const ready = new Promise<void>((resolve) => (allReady = resolve));
      const running = jobs.map((job) =>
        run(executor, job, "echo ready; sleep 2; echo done", (all) => {
          if (all === "ready\n" && ++readyCount === jobs.length) allReady();
        }).then(
          (ran) => ({ job, ran }),
          (error: unknown) => ({ job, error }),
        ),
      );
      await ready;
      await victim.kill();
      const outcomes = await Promise.all(running);

      for (const o of outcomes) {
        if (o.job === doomed) {
          expect("error" in o, "the job on the dead host fails").toBe(true);
          const error = (o as { error: unknown }).error;
          expect(error).toBeInstanceOf(GantryError);
          expect(error).toMatchObject({ code: "EXECUTOR_FAILED", retryable: true });
          expect((error as Error).message).toMatch(new RegExp(`^ssh host ${victim.alias} .*connection lost`));
        } else {
          expect(o).toMatchObject({ ran: { stdout: "ready\ndone\n", stderr: "", result: { exitCode: 0 } } });
        }
      }
      for (const job of jobs) await executor.cleanupJob(job);

      // The engine's retry: a new attempt, a new setupJob.
      const retry = { ...doomed, attempt: 2 };
      await executor.setupJob(retry);
      try {
        expect(executor.hostOf(retry)).not.toBe(victim.alias);
        expect(await run(executor, retry, "cat README.md")).toMatchObject({ stdout: "pool test repo\n", result: { exitCode: 0 } });
      } finally {
        await executor.cleanupJob(retry);
      }
    } finally {
      await executor.cleanupWorkspace({ ...ws, signal: new AbortController().signal });
      await victim.restart();
    }
    for (const s of f.servers) await eventually(() => s.descendants().length === 0, `${s.alias} to have no sessions`);
  });
});
