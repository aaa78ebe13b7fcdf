/**
 * Job caching (`cache: true`) and keyed caches (`caches: [...]`) over the
 * run's `RunCache` (see src/core/cache.ts). Caching never fails a job: a
 * lookup, restore or save that goes wrong is logged as a warning and the job
 * goes on as if nothing was cached. One exception: a cache blob that does
 * not match its hash (`BLOB_CORRUPT`) fails the job, since part of the
 * modified content may already be in its workspace.
 */
import type { JobCacheKey } from "../core/cache.js";
import { coerceError, GantryError } from "../core/errors.js";
import type { Executor, JobInfo } from "../core/executor.js";
import { hashValue } from "../core/hash.js";
import type { PlanCache, PlanJob } from "../core/plan-types.js";
import { lineSink, logMessage } from "./output.js";
import type { RunContext } from "./run-context.js";

export interface CachedOutcome {
  readonly status: "cached";
  readonly outputs: Record<string, string>;
  readonly reason: string;
}

function warn(run: RunContext, jobId: string, message: string): void {
  logMessage(run, lineSink(run, jobId), "system", `warning: ${message}`);
}

/** Whether jobs on this job's executor get a copy of the repository (then its files are inputs of the job). */
function copiesRepo(run: RunContext, job: PlanJob): boolean {
  return run.plan.executors[job.executor]?.copiesRepo !== false;
}

/**
 * The key of a `cache: true` job: its hash, its inputs (artifacts, the outputs
 * of its needs, the repository files when it gets a copy) and its env; or
 * undefined when an input artifact is missing (the job will fail on it anyway).
 */
export async function jobCacheKey(run: RunContext, job: PlanJob): Promise<JobCacheKey | undefined> {
  const cache = run.cache;
  if (!cache) return undefined;
  const artifacts: Record<string, string> = {};
  for (const input of job.inputs.artifacts) {
    const found = run.artifacts.find(input.name, input.from);
    if (!found) return undefined;
    artifacts[`${input.name}:${input.path}`] = found.hash;
  }
  let repo: string | null = null;
  try {
    if (copiesRepo(run, job)) repo = await cache.repoHash();
  } catch (error) {
    warn(run, job.id, `the repository could not be hashed for the job cache (${coerceError(error).message}); running the job`);
    return undefined;
  }
  // What the jobs it needs handed over (`ctx.needs[...].outputs`) is an input too.
  const needs: Record<string, Readonly<Record<string, string>>> = {};
  for (const id of job.needs) needs[id] = run.records.get(id)?.outputs ?? {};
  // Secret values enter the env hash as an HMAC keyed by the store, never as themselves.
  const env: Record<string, string> = { ...run.workflowEnv, ...job.env };
  try {
    for (const [name, value] of Object.entries(env)) if (run.secretValues.has(value)) env[name] = await cache.secretDigest(value);
  } catch (error) {
    warn(run, job.id, `the job cache key could not be computed (${coerceError(error).message}); running the job`);
    return undefined;
  }
  return {
    jobHash: job.hash,
    inputsHash: hashValue({ artifacts, repo, needs }),
    envHash: hashValue(env),
  };
}

/**
 * `cache: true`: the earlier result of the same job, restored (outputs and
 * artifacts registered, `artifact.saved` emitted so this run's record is
 * complete), or undefined when there is none.
 */
export async function restoreCachedJob(run: RunContext, job: PlanJob, key: JobCacheKey): Promise<CachedOutcome | undefined> {
  let hit;
  try {
    hit = await run.cache?.findJob(key);
  } catch (error) {
    warn(run, job.id, `the job cache could not be read (${coerceError(error).message}); running the job`);
    return undefined;
  }
  if (!hit) return undefined;
  for (const [name, blob] of Object.entries(hit.artifacts)) {
    run.artifacts.register({ name, jobId: job.id, hash: blob.hash, size: blob.size });
    run.emit("artifact.saved", { jobId: job.id, name, hash: blob.hash, size: blob.size });
  }
  const reason = `same job, inputs and env as in run ${hit.runId}`;
  logMessage(run, lineSink(run, job.id), "system", `cached: ${reason}`);
  return { status: "cached", outputs: { ...hit.outputs }, reason };
}

/** A keyed cache of one job attempt, its key resolved. */
export interface ResolvedCache {
  readonly cache: PlanCache;
  readonly key: string;
  /** The entry with exactly this key was restored: nothing to save. */
  exact: boolean;
}

async function resolveKey(run: RunContext, cache: PlanCache): Promise<string> {
  const parts: string[] = [];
  for (const part of cache.key) parts.push("text" in part ? part.text : ((await run.cache?.hashFiles(part.hashFiles)) ?? ""));
  return parts.join("-");
}

/** Restore each keyed cache of the job (after its input artifacts). */
export async function restoreCaches(run: RunContext, job: PlanJob, executor: Executor, info: JobInfo): Promise<ResolvedCache[]> {
  const cacheOf = run.cache;
  if (job.caches.length === 0) return [];
  if (!cacheOf) {
    warn(run, job.id, "caches need the run history (a store); they are neither restored nor saved in this run");
    return [];
  }
  const out: ResolvedCache[] = [];
  for (const cache of job.caches) {
    let resolved: ResolvedCache;
    try {
      resolved = { cache, key: await resolveKey(run, cache), exact: false };
    } catch (error) {
      warn(run, job.id, `a cache key could not be computed (${coerceError(error).message}); that cache is off for this job`);
      continue;
    }
    out.push(resolved);
    try {
      const entry = await cacheOf.findEntry(resolved.key, cache.restoreKeys);
      if (!entry) {
        logMessage(run, lineSink(run, job.id), "system", `cache ${resolved.key}: not found`);
        continue;
      }
      for (const path of cache.paths) {
        const blob = entry.paths[path];
        if (!blob) continue;
        const tar = await run.artifacts.blobs.open(blob.hash, `cache ${resolved.key} ("${path}")`);
        try {
          await executor.writeFiles(info, path, tar);
        } finally {
          tar.destroy();
        }
      }
      resolved.exact = entry.key === resolved.key;
      run.emit("cache.restored", { jobId: job.id, key: resolved.key, matched: entry.key, exact: resolved.exact });
      const how = resolved.exact ? "restored" : `restored from ${entry.key}`;
      logMessage(run, lineSink(run, job.id), "system", `cache ${resolved.key}: ${how} (${cache.paths.join(", ")})`);
    } catch (error) {
      if (info.signal.aborted) throw error;
      // Part of a modified blob may be in the workspace already: the job must not run on it.
      if (error instanceof GantryError && error.code === "BLOB_CORRUPT") throw error;
      warn(run, job.id, `cache ${resolved.key} could not be restored (${coerceError(error).message})`);
    }
  }
  return out;
}

/** Save the keyed caches that had no exact entry, after a green job. */
export async function saveCaches(
  run: RunContext,
  job: PlanJob,
  executor: Executor,
  info: JobInfo,
  caches: readonly ResolvedCache[],
): Promise<void> {
  for (const resolved of caches) {
    if (resolved.exact) continue;
    const paths: Record<string, { hash: string; size: number }> = {};
    for (const path of resolved.cache.paths) {
      try {
        const tar = await executor.readFiles(info, path);
        const blob = await run.artifacts.save(`cache ${resolved.key}`, job.id, tar, info.signal);
        paths[path] = { hash: blob.hash, size: blob.size };
      } catch (error) {
        if (info.signal.aborted) throw error;
        warn(run, job.id, `cache ${resolved.key}: "${path}" was not saved (${coerceError(error).message})`);
      }
    }
    if (Object.keys(paths).length === 0) continue;
    run.emit("cache.saved", { jobId: job.id, key: resolved.key, paths });
    logMessage(run, lineSink(run, job.id), "system", `cache ${resolved.key}: saved (${Object.keys(paths).join(", ")})`);
  }
}
