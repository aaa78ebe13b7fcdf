/**
 * The SSH executor through the CLI (`node bin/gantry.js run`) against real
 * sshd servers: a 6-job matrix in pool mode spreads over three hosts (read
 * from the store: `jobs.location`); a server killed mid-run fails only its
 * job, whose retry runs green on another host; and the infrastructure errors
 * (unknown host key, wrong key, unreachable host, no tar) are one sentence
 * naming host and cause, exit 1, no stack trace, nothing left on the host.
 * Synchronisation is by marker files the jobs write; no wall-clock asserts.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import { gantry, tempDir } from "../cli/helpers.js";
import type { CliResult } from "../cli/helpers.js";
import { requireService } from "../support/services.js";
import { startSshdFixture } from "../support/sshd.js";
import type { SshdFixture, SshdServer } from "../support/sshd.js";

const skip = await requireService("sshd", "ssh executor CLI tests");

const SHARDS = ["1", "2", "3", "4", "5", "6"];

async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Repo {
  readonly dir: string;
  readonly home: string;
}

/** A repository with `workflow.ts` using `executor` (an `executors.ssh(...)` options object) and `job.sh` as the step. */
async function makeRepo(executor: Record<string, unknown>, script: string, matrix: readonly string[] = SHARDS): Promise<Repo> {
  const dir = tempDir("ssh");
  const home = join(dir, ".home"); // no ~/.ssh/config, no agent: only what the workflow says
  await mkdir(home);
  await writeFile(join(dir, ".gitignore"), ".home/\n");
  await writeFile(join(dir, "job.sh"), script);
  const workflow = [
    `import { executors, job, sh, workflow } from "gantry";`,
    ``,
    `const hosts = executors.ssh(${JSON.stringify(executor)});`,
    ``,
    `export default workflow({`,
    `  name: "ssh-cli",`,
    `  jobs: {`,
    `    test: job({`,
    `      executor: hosts,`,
    `      matrix: { shard: ${JSON.stringify(matrix)} },`,
    `      retry: { attempts: 2, delay: "0s" },`,
    `      steps: [sh\`sh ./job.sh\`],`,
    `    }),`,
    `  },`,
    `});`,
    ``,
  ].join("\n");
  await writeFile(join(dir, "workflow.ts"), workflow);
  return { dir, home };
}

function run(repo: Repo, extra: readonly string[] = []): Promise<CliResult> {
  return gantry(["run", "-f", "workflow.ts", "--log-format", "plain", ...extra], {
    cwd: repo.dir,
    env: { HOME: repo.home, SSH_AUTH_SOCK: undefined, GANTRY_DATABASE_URL: undefined },
  });
}

async function storedJobs(
  repo: Repo,
): Promise<{ jobs: Map<string, { status: string; attempts: number; location: string | null }>; hostLines: Map<string, string[]> }> {
  const store = await openStore({ repoDir: repo.dir });
  try {
    const [last] = await store.runs.list({ limit: 1 });
    if (!last) throw new Error("no run in the store");
    const jobs = new Map((await store.jobs.list(last.id)).map((j) => [j.jobId, j]));
    const hostLines = new Map<string, string[]>();
    for (const chunk of await store.logs.read({ runId: last.id, limit: 10_000 })) {
      for (const l of chunk.lines) {
        if (l.stream !== "system" || !l.line.startsWith("running on ")) continue;
        hostLines.set(chunk.jobId, [...(hostLines.get(chunk.jobId) ?? []), l.line.slice("running on ".length)]);
      }
    }
    return { jobs, hostLines };
  } finally {
    await store.close();
  }
}

function expectNoStackTrace(r: CliResult): void {
  expect(`${r.stdout}\n${r.stderr}`).not.toMatch(/^\s+at /m);
}

/** The output line carrying `needle`, from `ssh host` on: one sentence, no line breaks. */
function sentenceWith(r: CliResult, needle: string): string {
  const line = `${r.stdout}\n${r.stderr}`.split("\n").find((l) => l.includes(needle));
  expect(line, `a line containing ${JSON.stringify(needle)} in:\n${r.stdout}\n${r.stderr}`).toBeDefined();
  const sentence = line!.slice(line!.indexOf("ssh host "));
  expect(sentence.trim().endsWith(".")).toBe(true);
  expect(sentence.slice(0, -1)).not.toMatch(/\.\s+[A-Z]/);
  return sentence;
}

describe.skipIf(skip)("ssh executor through the CLI", () => {
  let f: SshdFixture;
  let pool: SshdServer[];
  let lone: SshdServer;
  const repos: string[] = [];

  beforeAll(async () => {
    f = await startSshdFixture({ count: 4, noTar: [3] });
    pool = f.servers.slice(0, 3);
    lone = f.servers[3]!;
  });

  afterAll(async () => {
    await f?.close();
    for (const dir of repos) await rm(dir, { recursive: true, force: true });
  });

  const address = (s: SshdServer): string => `${s.host}:${s.port}`;
  const location = (s: SshdServer): string => `${f.user}@${s.host}:${s.port}`;
  const options = (hosts: readonly string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    hosts,
    user: f.user,
    identityFile: f.userKey,
    knownHosts: f.knownHosts,
    agent: false,
    workspaceDir: join(f.dir, "work"),
    ...extra,
  });
  const quiet = (s: SshdServer): Promise<void> => eventually(() => s.descendants().length === 0, `no sessions left on ${s.alias}`);

  describe("errors: one sentence naming host and cause, exit 1", () => {
    const failing = async (extra: Record<string, unknown>, host = address(lone)): Promise<CliResult> => {
      const repo = await makeRepo(options([host], { mode: "shared", ...extra }), "echo never\n", ["1"]);
      repos.push(repo.dir);
      const r = await run(repo);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expectNoStackTrace(r);
      expect(r.stdout).not.toContain("never");
      return r;
    };

    it("unknown host key", async () => {
      const empty = join(f.dir, "known_hosts_empty");
      await writeFile(empty, "");
      const r = await failing({ knownHosts: empty });
      const sentence = sentenceWith(r, "host key is unknown");
      expect(sentence).toMatch(new RegExp(`^ssh host 127\\.0\\.0\\.1:${lone.port}: host key is unknown`));
      expect(sentence).toContain(lone.fingerprint);
      await quiet(lone);
    });

    it("wrong key", async () => {
      const r = await failing({ identityFile: f.strangerKey });
      const sentence = sentenceWith(r, "authentication failed");
      expect(sentence).toMatch(new RegExp(`^ssh host 127\\.0\\.0\\.1:${lone.port}: authentication failed for user ${f.user}`));
      await quiet(lone);
    });

    it("unreachable host", async () => {
      const port = await f.unusedPort();
      const r = await failing({}, `127.0.0.1:${port}`);
      expect(sentenceWith(r, "unreachable")).toBe(
        `ssh host 127.0.0.1:${port}: unreachable: connection refused (no SSH server listening on that port).`,
      );
    });

    it("missing tar on the host", async () => {
      const r = await failing({});
      const sentence = sentenceWith(r, "tar is not installed");
      expect(sentence).toMatch(new RegExp(`^ssh host 127\\.0\\.0\\.1:${lone.port}: tar is not installed on the host`));
      await quiet(lone);
    });
  });

  it("spreads a 6-job matrix over all three hosts in pool mode, and the store says which host ran which job", async () => {
    const barrier = join(f.dir, "barrier");
    await mkdir(barrier);
    // Every job waits until all six have started, so each host gets its two (maxJobsPerHost: 2).
    const script = [
      `[ "$GANTRY_WORKSPACE" = "$(pwd)" ] || { echo "GANTRY_WORKSPACE is '$GANTRY_WORKSPACE', not $(pwd)" >&2; exit 9; }`,
      `touch ${barrier}/started-$MATRIX_SHARD`,
      `n=0`,
      `while [ "$(ls ${barrier} | grep -c '^started-')" -lt 6 ]; do`,
      `  n=$((n + 1)); if [ $n -gt 1200 ]; then echo "barrier never filled" >&2; exit 1; fi; sleep 0.05`,
      `done`,
      `echo "shard $MATRIX_SHARD ran via $SSH_CONNECTION"`,
      ``,
    ].join("\n");
    const repo = await makeRepo(options(pool.map(address), { mode: "pool", maxJobsPerHost: 2 }), script);
    repos.push(repo.dir);
    const r = await run(repo, ["--concurrency", "6"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { jobs, hostLines } = await storedJobs(repo);
    expect([...jobs.values()].map((j) => j.status)).toEqual(Array(6).fill("success"));
    const where = [...jobs.values()].map((j) => j.location);
    expect(new Set(where)).toEqual(new Set(pool.map(location)));
    for (const s of pool) expect(where.filter((l) => l === location(s))).toHaveLength(2);
    // Each job's own output names the server port its host is: the location is the truth.
    for (const shard of SHARDS) {
      const id = `test (shard=${shard})`;
      const loc = jobs.get(id)?.location ?? "";
      expect(hostLines.get(id)).toEqual([loc]);
      const port = loc.slice(loc.lastIndexOf(":") + 1);
      expect(r.stdout).toMatch(new RegExp(`shard ${shard} ran via \\S+ \\d+ \\S+ ${port}\\b`));
    }

    const shown = await gantry(["show", "last"], { cwd: repo.dir, env: { HOME: repo.home } });
    expect(shown.code).toBe(0);
    for (const s of pool) expect(shown.stdout).toContain(`ran on ${location(s)}`);
    const json = await gantry(["show", "last", "--json"], { cwd: repo.dir, env: { HOME: repo.home } });
    const parsed = JSON.parse(json.stdout) as { jobs: Array<{ location: string | null }> };
    expect(new Set(parsed.jobs.map((j) => j.location))).toEqual(new Set(pool.map(location)));
  });

  it("a server killed mid-run fails only its job, whose retry runs green on another host", async () => {
    const markers = join(f.dir, "markers");
    await mkdir(markers);
    // Shard 1's first attempt records where it runs and blocks until its server dies; the others finish.
    const script = [
      `if [ "$MATRIX_SHARD" = 1 ] && mkdir ${markers}/blocked 2>/dev/null; then`,
      `  echo "$SSH_CONNECTION" > ${markers}/blocked/where.tmp && mv ${markers}/blocked/where.tmp ${markers}/blocked/where`,
      `  while :; do sleep 0.1; done`,
      `fi`,
      `echo "shard $MATRIX_SHARD done"`,
      `touch ${markers}/done-$MATRIX_SHARD`,
      ``,
    ].join("\n");
    const repo = await makeRepo(options(pool.map(address), { mode: "pool", maxJobsPerHost: 2 }), script);
    repos.push(repo.dir);
    const running = run(repo, ["--concurrency", "6"]);
    const whereFile = join(markers, "blocked", "where");
    // The other five must have finished (recorded in the store), not only printed: a job still in its
    // cleanup on the victim host would fail with it.
    const finished = async (): Promise<number> => {
      if (!existsSync(join(repo.dir, ".gantry", "state", "gantry.db"))) return 0;
      const store = await openStore({ repoDir: repo.dir });
      try {
        const [last] = await store.runs.list({ limit: 1 });
        return last ? (await store.jobs.list(last.id)).filter((j) => j.status === "success").length : 0;
      } finally {
        await store.close();
      }
    };
    await eventually(async () => existsSync(whereFile) && (await finished()) === 5, "shard 1 blocking and the other five finished", 60_000);
    const port = Number(readFileSync(whereFile, "utf8").trim().split(" ")[3]);
    const victim = pool.find((s) => s.port === port);
    expect(victim, `a pool server on port ${port}`).toBeDefined();
    await victim!.kill();

    const r = await running;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expectNoStackTrace(r);
    const { jobs, hostLines } = await storedJobs(repo);
    expect([...jobs.values()].map((j) => j.status)).toEqual(Array(6).fill("success"));
    const blocked = jobs.get("test (shard=1)");
    expect(blocked?.attempts).toBe(2);
    // The log keeps each attempt's host; the record keeps the last one's.
    const attempts = hostLines.get("test (shard=1)") ?? [];
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toBe(location(victim!));
    expect(attempts[1]).not.toBe(location(victim!));
    expect(blocked?.location).toBe(attempts[1]);
    expect(r.stdout).toMatch(/connection lost/);
    for (const shard of SHARDS.slice(1)) expect(jobs.get(`test (shard=${shard})`)?.attempts).toBe(1);
    for (const s of pool) if (s !== victim) await quiet(s);
  });
});
