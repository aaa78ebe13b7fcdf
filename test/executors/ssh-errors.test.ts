/**
 * Against real sshd: host key checks (unknown, changed, hashed entries,
 * accept-new), credentials, unreachable hosts, a host without tar: each one
 * sentence naming host and cause, and nothing left running on the host.
 * Also: secrets never appear on a command line on the host.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GantryError } from "../../src/core/errors.js";
import type { Executor } from "../../src/core/executor.js";
import { makeJobInfo, makePlanExecutor, makePlanJob, makeWorkspaceInfo } from "gantry/testing";
import { createSshExecutor } from "../../src/executors/ssh/index.js";
import { requireService } from "../support/services.js";
import { startSshdFixture } from "../support/sshd.js";
import type { SshdFixture, SshdServer } from "../support/sshd.js";

const skip = await requireService("sshd", "ssh executor error tests");

async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rejection(promise: Promise<unknown>): Promise<GantryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected a rejection").toBeInstanceOf(GantryError);
  return error as GantryError;
}

/** Alive and not a zombie (orphans may stay unreaped in a container). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** One sentence: no line breaks, one final full stop (abbreviations such as "e.g." aside). */
function expectOneSentence(message: string): void {
  expect(message).not.toContain("\n");
  expect(message.trim().endsWith(".")).toBe(true);
  expect(message.slice(0, -1)).not.toMatch(/\.\s+[A-Z]/);
}

describe.skipIf(skip)("ssh executor: errors and security against real sshd", () => {
  let f: SshdFixture;
  let server: SshdServer;
  let noTar: SshdServer;
  let scratch: string;
  const repo = process.cwd();

  beforeAll(async () => {
    f = await startSshdFixture({ count: 2, noTar: [1] });
    server = f.servers[0]!;
    noTar = f.servers[1]!;
    scratch = await mkdtemp(join(tmpdir(), "gantry-ssh-err-"));
  });

  afterAll(async () => {
    await f?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  const make = (name: string, options: Record<string, unknown>): Executor => {
    const def = makePlanExecutor({
      name,
      kind: "ssh",
      options: { workspaceDir: join(f.dir, `work-${name}`), knownHosts: f.knownHosts, ...options },
    });
    return createSshExecutor(def, { sshConfigFile: f.sshConfig, authSock: "" });
  };
  const ws = (executor: Executor, runId: string) =>
    makeWorkspaceInfo(makePlanExecutor({ name: executor.name, kind: "ssh" }), ["job"], { runId, repoDir: repo, runDir: scratch });
  const setupFails = async (executor: Executor, runId: string): Promise<GantryError> => {
    const info = ws(executor, runId);
    try {
      return await rejection(executor.setupWorkspace(info));
    } finally {
      await executor.cleanupWorkspace(info);
    }
  };
  const quiet = (s: SshdServer) => eventually(() => s.descendants().length === 0, `no sessions on ${s.alias}`);

  it("refuses an unknown host key, printing its SHA256 fingerprint", async () => {
    const empty = join(scratch, "known_hosts_empty");
    await writeFile(empty, "");
    const error = await setupFails(make("unknown-key", { host: server.alias, knownHosts: empty }), "r-unknown");
    expect(error.message).toMatch(new RegExp(`^ssh host ${server.alias} \\(127\\.0\\.0\\.1:${server.port}\\): host key is unknown`));
    expect(error.message).toContain(server.fingerprint);
    expect(error.message).toContain('hostKeyPolicy: "accept-new"');
    expect(error).toMatchObject({ code: "EXECUTOR_FAILED", retryable: false });
    expectOneSentence(error.message);
    await quiet(server);
  });

  it("refuses a changed host key", async () => {
    const stranger = readFileSync(`${f.strangerKey}.pub`, "utf8").split(" ");
    const wrong = join(scratch, "known_hosts_wrong");
    await writeFile(wrong, `# comment\n[127.0.0.1]:${server.port} ${stranger[0]} ${stranger[1]}\n`);
    const error = await setupFails(make("changed-key", { host: server.alias, knownHosts: wrong }), "r-changed");
    expect(error.message).toMatch(/host key has CHANGED/);
    expect(error.message).toContain(server.fingerprint);
    expect(error.message).toContain(`${wrong} line 2`);
    expectOneSentence(error.message);
    await quiet(server);
  });

  it("accepts hashed known_hosts entries (ssh-keygen -H)", async () => {
    const hashed = join(scratch, "known_hosts_hashed");
    await copyFile(f.knownHosts, hashed);
    expect(spawnSync("ssh-keygen", ["-H", "-f", hashed], { stdio: "ignore" }).status).toBe(0);
    expect(await readFile(hashed, "utf8")).toMatch(/^\|1\|/);
    const executor = make("hashed", { host: server.alias, knownHosts: hashed });
    const info = ws(executor, "r-hashed");
    await executor.setupWorkspace(info);
    await executor.cleanupWorkspace(info);
  });

  it("with accept-new records an unknown key, then accepts it in strict mode", async () => {
    const file = join(scratch, "new", "known_hosts");
    const first = make("accept-new", { host: server.alias, knownHosts: file, hostKeyPolicy: "accept-new", copyRepo: false });
    const info = ws(first, "r-accept");
    await first.setupWorkspace(info);
    await first.cleanupWorkspace(info);
    const recorded = await readFile(file, "utf8");
    expect(recorded.trim()).toBe(server.knownHostsLine);
    // ssh-keygen finds it, so OpenSSH would too.
    expect(spawnSync("ssh-keygen", ["-F", `[127.0.0.1]:${server.port}`, "-f", file], { encoding: "utf8" }).stdout).toContain(
      server.knownHostsLine.split(" ")[2],
    );
    const strict = make("strict-after", { host: server.alias, knownHosts: file, copyRepo: false });
    const again = ws(strict, "r-strict");
    await strict.setupWorkspace(again);
    await strict.cleanupWorkspace(again);
  });

  it("says authentication failed for a key the host does not accept", async () => {
    const error = await setupFails(make("wrong-key", { host: server.alias, identityFile: f.strangerKey }), "r-auth");
    expect(error.message).toMatch(new RegExp(`^ssh host ${server.alias} .*authentication failed for user ${f.user}`));
    expect(error.message).toContain(f.strangerKey);
    expect(error).toMatchObject({ code: "EXECUTOR_FAILED", retryable: false });
    expectOneSentence(error.message);
    await quiet(server);
  });

  it("says a host is unreachable (connection refused), retryable", async () => {
    const port = await f.unusedPort();
    const error = await setupFails(make("unreachable", { host: `127.0.0.1:${port}`, user: f.user, identityFile: f.userKey }), "r-unreach");
    expect(error.message).toBe(`ssh host 127.0.0.1:${port}: unreachable: connection refused (no SSH server listening on that port).`);
    expect(error).toMatchObject({ code: "EXECUTOR_FAILED", retryable: true });
  });

  it("says tar is missing on the host, and leaves nothing running there", async () => {
    const executor = make("no-tar", { host: noTar.alias });
    const info = ws(executor, "r-notar");
    await executor.setupWorkspace(info);
    const job = makeJobInfo(makePlanJob("job", { executor: executor.name }), { runId: "r-notar", repoDir: repo, runDir: scratch });
    try {
      const error = await rejection(executor.setupJob(job));
      expect(error.message).toMatch(
        new RegExp(`^ssh host ${noTar.alias} \\(127\\.0\\.0\\.1:${noTar.port}\\): tar is not installed on the host`),
      );
      expect(error).toMatchObject({ code: "EXECUTOR_FAILED", retryable: false });
      expectOneSentence(error.message);
    } finally {
      await executor.cleanupJob(job);
      await executor.cleanupWorkspace(info);
    }
    await quiet(noTar);
  });

  it("in a pool skips a host it cannot verify and runs the job on another", async () => {
    const onlyFirst = join(scratch, "known_hosts_first");
    await writeFile(onlyFirst, `${server.knownHostsLine}\n`);
    const def = makePlanExecutor({
      name: "pool-bad-key",
      kind: "ssh",
      options: {
        hosts: [noTar.alias, server.alias],
        mode: "pool",
        knownHosts: onlyFirst,
        copyRepo: false,
        workspaceDir: join(f.dir, "work-pool-bad"),
      },
    });
    const executor = createSshExecutor(def, { sshConfigFile: f.sshConfig, authSock: "" });
    const job = makeJobInfo(makePlanJob("job", { executor: def.name }), { runId: "r-pool-bad", runDir: scratch });
    try {
      await executor.setupJob(job);
      expect(executor.hostOf(job)).toBe(server.alias);
    } finally {
      await executor.cleanupJob(job);
      await executor.cleanupWorkspace(makeWorkspaceInfo(def, [], { runId: "r-pool-bad", runDir: scratch }));
    }
  });

  it("never puts env values on a command line on the host, and kills what escaped the process group at cleanupJob", async () => {
    const secret = `s3cr3t-${Date.now()}`;
    const executor = make("secrets", { host: server.alias, copyRepo: false });
    const info = ws(executor, "r-secret");
    await executor.setupWorkspace(info);
    const job = makeJobInfo(makePlanJob("job", { executor: executor.name }), { runId: "r-secret", runDir: scratch });
    try {
      await executor.setupJob(job);
      let started!: () => void;
      const ready = new Promise<void>((resolve) => (started = resolve));
      const running = executor.exec(
        job,
        {
          script: 'setsid sleep 1000 > /dev/null 2>&1 < /dev/null & echo $! > escaped.pid; echo ready; sleep 1; test -n "$TOKEN"',
          env: { TOKEN: secret, PATH: "/usr/bin:/bin" },
          signal: new AbortController().signal,
        },
        { stdout: (c) => c.toString().includes("ready") && started(), stderr: () => undefined },
      );
      await ready;
      // Every command line of every process on this machine (the host is local).
      const cmdlines = readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .map((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, "utf8");
          } catch {
            return "";
          }
        });
      expect(cmdlines.some((c) => c.includes(secret))).toBe(false);
      expect(await running).toMatchObject({ exitCode: 0 });
      const out: Buffer[] = [];
      await executor.exec(
        job,
        { script: "cat escaped.pid", env: {}, signal: new AbortController().signal },
        { stdout: (c) => out.push(c), stderr: () => undefined },
      );
      const pid = Number(Buffer.concat(out).toString().trim());
      expect(pid).toBeGreaterThan(1);
      expect(alive(pid)).toBe(true);
      await executor.cleanupJob(job);
      expect(alive(pid)).toBe(false);
    } finally {
      await executor.cleanupJob(job);
      await executor.cleanupWorkspace(info);
    }
    await quiet(server);
  });
});
