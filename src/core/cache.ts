/**
 * The run cache: what the engine asks of the run history for `cache: true`
 * jobs and keyed `caches`. The CLI (or server, or agent) builds it over a
 * `Store`; the engine only sees this interface.
 *
 * Call order, per job: `repoHash` and `hashFiles` when a key needs them (they
 * may be called by many jobs at once and should compute each answer once per
 * run), then `findJob` (`cache: true`) before `setupJob`, then `findEntry`
 * (keyed caches) after the input artifacts are restored. Saving goes through
 * events (`cache.saved`, `job.finished` with its `cacheKey`), which the store
 * writer records: nothing here writes.
 *
 * Errors: a lookup that fails rejects; the engine then runs the job as if
 * nothing was cached and logs why.
 */
import type { JobStatus } from "./context.js";

/** The key of `cache: true`: the same job hash, input contents and env mean the same result. */
export interface JobCacheKey {
  readonly jobHash: string;
  /** Hash of the input artifacts' content hashes and, for jobs that copy the repository, of its files. */
  readonly inputsHash: string;
  /** Hash of the env the workflow gives the job (names and values; secret values through `RunCache.secretDigest`). */
  readonly envHash: string;
}

/** A tar in the run's blob store (src/core/blobs.ts), by content hash. */
export interface StoredBlob {
  readonly hash: string;
  readonly size: number;
}

/** An earlier successful run of a job with the same key. */
export interface CachedJob {
  readonly runId: string;
  readonly status: JobStatus;
  readonly outputs: Readonly<Record<string, string>>;
  readonly artifacts: Readonly<Record<string, StoredBlob>>;
}

/** A keyed cache entry: one tar blob per path. */
export interface CacheEntry {
  readonly key: string;
  readonly paths: Readonly<Record<string, StoredBlob>>;
}

export interface RunCache {
  /** One SHA-256 over the repository files a job that copies the repository gets. */
  repoHash(): Promise<string>;
  /** `hashFiles(...)`: one SHA-256 over the repository files matching the globs (path and content); "" when none match. */
  hashFiles(patterns: readonly string[]): Promise<string>;
  findJob(key: JobCacheKey): Promise<CachedJob | undefined>;
  /**
   * What a secret value enters the env hash as: an HMAC with a key of the
   * store (never a plain hash, which could be used to guess a weak secret offline).
   */
  secretDigest(value: string): Promise<string>;
  /** The entry saved under `key`, else the newest whose key starts with the first of `restoreKeys` that has one. */
  findEntry(key: string, restoreKeys: readonly string[]): Promise<CacheEntry | undefined>;
}
