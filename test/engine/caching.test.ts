/**
 * The engine's side of `cache: true`, keyed `caches` and reused jobs, on fake
 * executors, with a `RunCache` kept in memory (the contract of
 * src/core/cache.ts; the store-backed one is exercised end to end in
 * test/e2e/history.test.ts).
 */
import { createHmac } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { CachedJob, CacheEntry, JobCacheKey, RunCache } from "../../src/core/cache.js";
import { hashValue } from "../../src/core/hash.js";
import type { PlanCache } from "../../src/core/plan-types.js";
import { eventsOf, logLines, makePlan, removeTempDirs, runFake, statuses, type Harness } from "./helpers.js";

afterAll(removeTempDirs);

/** What a store would remember of the runs before: job results by key, cache entries by key. */
class MemoryCache implements RunCache {
  readonly jobs = new Map<string, CachedJob>();
  readonly entries = new Map<string, CacheEntry>();
  readonly calls: string[] = [];
  failFindJob = false;
  failRepoHash = false;
  repo = "repo-v1";

  static id(key: JobCacheKey): string {
    return `${key.jobHash}/${key.inputsHash}/${key.envHash}`;
  }

  repoHash(): Promise<string> {
    this.calls.push("repoHash");
    if (this.failRepoHash) return Promise.reject(new Error("EACCES: permission denied, scandir 'secret'"));
    return Promise.resolve(this.repo);
  }
  hashFiles(patterns: readonly string[]): Promise<string> {
    this.calls.push(`hashFiles ${patterns.join(",")}`);
    return Promise.resolve(`h(${patterns.join(",")})`);
  }
  findJob(key: JobCacheKey): Promise<CachedJob | undefined> {
    this.calls.push("findJob");
    if (this.failFindJob) return Promise.reject(new Error("database is locked"));
    return Promise.resolve(this.jobs.get(MemoryCache.id(key)));
  }
  secretDigest(value: string): Promise<string> {
    return Promise.resolve(`hmac:${createHmac("sha256", "store-key").update(value).digest("hex")}`);
  }
  findEntry(key: string, restoreKeys: readonly string[]): Promise<CacheEntry | undefined> {
    this.calls.push(`findEntry ${key} [${restoreKeys.join(",")}]`);
    const exact = this.entries.get(key);
    if (exact) return Promise.resolve(exact);
    for (const prefix of restoreKeys) {
      const found = [...this.entries.values()].reverse().find((e) => e.key.startsWith(prefix));
      if (found) return Promise.resolve(found);
    }
    return Promise.resolve(undefined);
  }

  /** Remember a finished run as the store writer would. */
  record(h: Harness): void {
    for (const e of eventsOf(h.events, "job.finished")) {
      if (!e.cacheKey || (e.status !== "success" && e.status !== "cached")) continue;
      const key = { jobHash: `job-${e.jobId}`, ...e.cacheKey };
      const artifacts: CachedJob["artifacts"] = Object.fromEntries(
        eventsOf(h.events, "artifact.saved")
          .filter((a) => a.jobId === e.jobId)
          .map((a) => [a.name, { hash: a.hash, size: a.size }]),
      );
      this.jobs.set(MemoryCache.id(key), { runId: h.runDir, status: e.status, outputs: e.outputs, artifacts });
    }
    for (const e of eventsOf(h.events, "cache.saved")) {
      const paths: CacheEntry["paths"] = { ...e.paths };
      if (!this.entries.has(e.key)) this.entries.set(e.key, { key: e.key, paths });
    }
  }
}

describe("cache: true", () => {
  const plan = (command = "write dist/app.txt v1", env: Record<string, string> = {}) =>
    makePlan({
      build: { cache: true, env, steps: [command], outputs: [{ name: "dist", path: "dist" }] },
      use: { needs: ["build"], inputs: [{ name: "dist", path: "in", from: ["build"] }], steps: ["cat in/app.txt"] },
    });

  it("secret values enter the env hash as the store's HMAC, never as a plain hash (issue 10.6)", async () => {
    const cache = new MemoryCache();
    const secret = "hunter2";
    const h = await runFake(plan(undefined, { TOKEN: secret, MODE: "ci" }), { cache, env: { values: {}, secretValues: [secret] } });
    const key = eventsOf(h.events, "job.finished").find((e) => e.jobId === "build")?.cacheKey;
    expect(key?.envHash).not.toBe(hashValue({ TOKEN: secret, MODE: "ci" }));
    expect(key?.envHash).toBe(hashValue({ TOKEN: await cache.secretDigest(secret), MODE: "ci" }));
  });

  it("runs once, then reports cached with the earlier artifacts and outputs, without starting the job", async () => {
    const cache = new MemoryCache();
    const first = await runFake(plan(), { cache });
    expect(first.violations).toEqual([]);
    expect(statuses(first.result)).toEqual({ build: "success", use: "success" });
    const finished = eventsOf(first.events, "job.finished");
    expect(finished.find((e) => e.jobId === "build")?.cacheKey).toEqual({ inputsHash: expect.any(String), envHash: expect.any(String) });
    expect(finished.find((e) => e.jobId === "use")?.cacheKey).toBeUndefined();
    cache.record(first);

    const second = await runFake(plan(), { cache });
    expect(second.violations).toEqual([]);
    expect(statuses(second.result)).toEqual({ build: "cached", use: "success" });
    expect(eventsOf(second.events, "job.started").map((e) => e.jobId)).toEqual(["use"]);
    expect(second.fakes.get("local")?.calls.filter((c) => c.jobId === "build")).toEqual([]);
    expect(logLines(second.events, "build")).toEqual([`cached: same job, inputs and env as in run ${first.runDir}`]);
    expect(logLines(second.events, "use")).toEqual(["v1"]);
    const saved = eventsOf(second.events, "artifact.saved").map((e) => [e.jobId, e.name, e.hash]);
    expect(saved).toEqual([["build", "dist", eventsOf(first.events, "artifact.saved")[0]?.hash]]);
    const build = eventsOf(second.events, "job.finished").find((e) => e.jobId === "build");
    expect(build).toMatchObject({ status: "cached", attempts: 0, reason: `same job, inputs and env as in run ${first.runDir}` });
    expect(build?.cacheKey).toEqual(finished.find((e) => e.jobId === "build")?.cacheKey);
  });

  it("the key changes with the job's env, the workflow env and the repository files, not with the process env", async () => {
    const cache = new MemoryCache();
    const keyOf = async (options: Parameters<typeof runFake>[1], p = plan()): Promise<unknown> => {
      const h = await runFake(p, { cache, ...options });
      return eventsOf(h.events, "job.finished").find((e) => e.jobId === "build")?.cacheKey;
    };
    const base = await keyOf({});
    expect(await keyOf({ processEnv: { HOME: "/elsewhere" } })).toEqual(base);
    expect(await keyOf({}, plan(undefined, { MODE: "release" }))).not.toEqual(base);
    expect(await keyOf({ env: { values: { CI: "true" }, secretValues: [] } })).not.toEqual(base);
    cache.repo = "repo-v2";
    expect(await keyOf({})).not.toEqual(base);
    expect(cache.calls.filter((c) => c === "repoHash").length).toBeGreaterThan(0);
  });

  it("the key changes with the outputs of the jobs it needs", async () => {
    const cache = new MemoryCache();
    const p = makePlan({ ver: { steps: ["true"] }, build: { cache: true, needs: ["ver"], steps: ["true"] } });
    const keyWith = async (v: string): Promise<unknown> => {
      const h = await runFake(p, { cache, restore: { jobs: { ver: { status: "success", outputs: { version: v } } } } });
      return eventsOf(h.events, "job.finished").find((e) => e.jobId === "build")?.cacheKey;
    };
    const one = await keyWith("1.0.0");
    expect(await keyWith("1.0.0")).toEqual(one);
    expect(await keyWith("1.0.1")).not.toEqual(one);
  });

  it("a failing lookup is a warning: the job runs", async () => {
    const cache = new MemoryCache();
    cache.failFindJob = true;
    const h = await runFake(plan(), { cache });
    expect(statuses(h.result)).toEqual({ build: "success", use: "success" });
    expect(logLines(h.events, "build")).toEqual(["warning: the job cache could not be read (database is locked); running the job"]);
  });

  it("a repository that cannot be hashed is a warning: the job runs, without a key to record", async () => {
    const cache = new MemoryCache();
    cache.failRepoHash = true;
    const h = await runFake(plan(), { cache });
    expect(statuses(h.result)).toEqual({ build: "success", use: "success" });
    expect(logLines(h.events, "build")[0]).toBe(
      "warning: the repository could not be hashed for the job cache (EACCES: permission denied, scandir 'secret'); running the job",
    );
    expect(eventsOf(h.events, "job.finished").find((e) => e.jobId === "build")?.cacheKey).toBeUndefined();
  });

  it("without a run cache the job just runs", async () => {
    const h = await runFake(plan());
    expect(statuses(h.result)).toEqual({ build: "success", use: "success" });
  });
});

describe("keyed caches", () => {
  const deps: PlanCache = { key: [{ text: "deps" }, { hashFiles: ["package-lock.json"] }], paths: ["vendor"], restoreKeys: ["deps-"] };
  const plan = (caches: PlanCache[], steps: string[]) => makePlan({ deps: { caches, steps } });

  it("saves after a green job, restores by exact key (no second save), falls back to a restore key", async () => {
    const cache = new MemoryCache();
    const first = await runFake(plan([deps], ["write vendor/lib.txt fresh\ncat vendor/lib.txt"]), { cache });
    expect(first.violations).toEqual([]);
    expect(statuses(first.result)).toEqual({ deps: "success" });
    expect(cache.calls).toContain("hashFiles package-lock.json");
    expect(logLines(first.events, "deps")).toEqual([
      "cache deps-h(package-lock.json): not found",
      "fresh",
      "cache deps-h(package-lock.json): saved (vendor)",
    ]);
    const saved = eventsOf(first.events, "cache.saved");
    expect(saved.map((e) => [e.jobId, e.key, Object.keys(e.paths)])).toEqual([["deps", "deps-h(package-lock.json)", ["vendor"]]]);
    cache.record(first);

    const second = await runFake(plan([deps], ["cat vendor/lib.txt"]), { cache });
    expect(eventsOf(second.events, "cache.restored")).toMatchObject([
      { jobId: "deps", key: "deps-h(package-lock.json)", matched: "deps-h(package-lock.json)", exact: true },
    ]);
    expect(eventsOf(second.events, "cache.saved")).toEqual([]);
    expect(logLines(second.events, "deps")).toEqual(["cache deps-h(package-lock.json): restored (vendor)", "fresh"]);

    const other: PlanCache = { ...deps, key: [{ text: "deps" }, { text: "v2" }] };
    const third = await runFake(plan([other], ["cat vendor/lib.txt"]), { cache });
    expect(eventsOf(third.events, "cache.restored")).toMatchObject([
      { key: "deps-v2", matched: "deps-h(package-lock.json)", exact: false },
    ]);
    expect(eventsOf(third.events, "cache.saved").map((e) => e.key)).toEqual(["deps-v2"]);
    expect(logLines(third.events, "deps")[0]).toBe("cache deps-v2: restored from deps-h(package-lock.json) (vendor)");
  });

  it("a failed job saves nothing; a path the job never made is a warning", async () => {
    const cache = new MemoryCache();
    const failed = await runFake(makePlan({ deps: { caches: [deps], steps: ["write vendor/lib.txt x", "exit 3"] } }), { cache });
    expect(statuses(failed.result)).toEqual({ deps: "failure" });
    expect(eventsOf(failed.events, "cache.saved")).toEqual([]);

    const missing: PlanCache = { key: [{ text: "k" }], paths: ["nothing-here"], restoreKeys: [] };
    const h = await runFake(makePlan({ deps: { caches: [missing], steps: ["true"] } }), { cache });
    expect(statuses(h.result)).toEqual({ deps: "success" });
    expect(eventsOf(h.events, "cache.saved")).toEqual([]);
    expect(logLines(h.events, "deps").some((l) => l.startsWith('warning: cache k: "nothing-here" was not saved'))).toBe(true);
  });

  it("without a run cache, caches are off with one warning and the job runs", async () => {
    const h = await runFake(makePlan({ deps: { caches: [deps], steps: ["true"] } }));
    expect(statuses(h.result)).toEqual({ deps: "success" });
    expect(logLines(h.events, "deps")).toEqual([
      "warning: caches need the run history (a store); they are neither restored nor saved in this run",
    ]);
  });
});

describe("reused jobs", () => {
  it("are announced in run.started and finished with their artifacts before anything runs", async () => {
    const p = makePlan({
      build: { steps: ["write dist/app.txt v1"], outputs: [{ name: "dist", path: "dist" }] },
      use: { needs: ["build"], inputs: [{ name: "dist", path: "in", from: ["build"] }], steps: ["cat in/app.txt"] },
    });
    const first = await runFake(p);
    const blob = eventsOf(first.events, "artifact.saved")[0]!;
    const h = await runFake(p, {
      restore: {
        jobs: {
          build: {
            status: "success",
            outputs: { v: "1" },
            reason: "reused from run r0",
            artifacts: { dist: { hash: blob.hash, size: blob.size } },
          },
        },
      },
    });
    expect(statuses(h.result)).toEqual({ build: "success", use: "success" });
    expect(h.events.slice(0, 3).map((e) => e.type)).toEqual(["run.started", "artifact.saved", "job.finished"]);
    expect(eventsOf(h.events, "run.started")[0]).toMatchObject({ jobIds: ["use"], reused: ["build"] });
    expect(eventsOf(h.events, "job.finished")[0]).toMatchObject({
      jobId: "build",
      status: "success",
      attempts: 0,
      reason: "reused from run r0",
    });
    expect(logLines(h.events, "use")).toEqual(["v1"]);
  });
});
