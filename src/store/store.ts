/**
 * The `Store`: the durable record of every run. Two implementations share the
 * numbered migrations in `migrations/` and pass one conformance suite
 * (`conformance.ts`): SQLite (`sqlite-store.ts`, the default, one file at
 * `.gantry/state/gantry.db`) and PostgreSQL (`postgres-store.ts`).
 *
 * Call order:
 *
 *   migrate()                     once, before anything else (openStore does it);
 *                                 refuses a schema newer than this Gantry
 *   runs.markInterrupted(alive)   at start, after migrate (openStore does it)
 *   write(batch)*                 any number, from any number of processes
 *   runs/jobs/logs/artifacts/plans reads*   at any time, also while a run writes
 *   close()                       once; every later call rejects
 *
 * Writes go through `write(batch)`: the operations of one batch are applied in
 * order in ONE transaction, all or nothing. The store writer
 * (`createStoreWriter`) turns the event map into such batches. Once `write`
 * resolves the batch is committed: a killed process (SIGKILL) loses nothing
 * of it. By default it is also durable across a power loss (SQLite fsyncs the
 * WAL, `synchronous=FULL` for that commit; PostgreSQL `synchronous_commit`);
 * `{ durable: false }` skips that wait (SQLite `synchronous=NORMAL`,
 * PostgreSQL `synchronous_commit = off`) until the next durable commit, which
 * makes everything before it durable too.
 *
 * Concurrency: calls may overlap; each implementation serialises what must be
 * (SQLite has one writer at a time and waits up to `busy_timeout` for another
 * process; PostgreSQL uses a pool). Several processes may open the same store.
 * One run's operations must come from one writer at a time, which assigns log
 * sequence numbers per job (`seq` 1, 2, 3, ... with no gaps).
 *
 * Idempotency: every operation of a batch is an upsert keyed by its natural key
 * (run id; run id + job id; + step index; + seq; + artifact name; cache key + path), so writing
 * the same batch twice (a retry after an unknown outcome) leaves the same rows.
 * A `job`/`step` upsert only overwrites the fields it carries. `migrate`,
 * `markInterrupted`, `prune`, `sweepBlobs` and `close` may be called again.
 *
 * Times are epoch milliseconds. Reads never return rows of a batch that has
 * not committed.
 */
import type { JobCacheKey } from "../core/cache.js";
import type { JobStatus, RunStatus, StepStatus } from "../core/context.js";
import type { LogStream } from "../core/events.js";
import type { Plan } from "../core/plan-types.js";
import type { BlobDir } from "./blobs.js";
import type { HookStore } from "./hooks.js";
import type { QueueStore } from "./queue/types.js";

/** The process that owns a running run: used to find runs whose process died. */
export interface RunOwner {
  readonly pid: number;
  readonly host: string;
  /** Boot id of the machine (Linux) or the boot time; a reboot means the owner is gone. */
  readonly boot: string;
  /** Start time of the process (clock ticks since boot on Linux; "" when unknown), to tell a reused pid. */
  readonly started: string;
}

export interface RunRecord {
  readonly id: string;
  readonly workflow: string;
  readonly file: string;
  /** What started it: "manual", "push", "cron", "rerun", ... */
  readonly trigger: string;
  readonly status: RunStatus;
  readonly planHash: string | null;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
  readonly owner: RunOwner | null;
  /** The run this one re-runs, if any. */
  readonly parentRunId: string | null;
}

export interface JobRecord {
  readonly runId: string;
  readonly jobId: string;
  readonly key: string;
  readonly name: string;
  readonly matrix: Readonly<Record<string, unknown>>;
  readonly needs: readonly string[];
  readonly executor: string | null;
  readonly status: JobStatus;
  readonly attempts: number;
  readonly jobHash: string | null;
  /** Hash of the input artifacts' content hashes (for job caching). */
  readonly inputsHash: string | null;
  /** Hash of the job's env keys and values (for job caching). */
  readonly envHash: string | null;
  readonly outputs: Readonly<Record<string, string>>;
  readonly reason: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
  /** Position in the plan (topological order). */
  readonly position: number;
  /** Where the last attempt ran (`Executor.jobLocation`: an ssh host, ...); null when the executor does not say. */
  readonly location: string | null;
  /** The job's log limit in bytes, when its output went past it (else null; migration 7). */
  readonly logLimit: number | null;
  /** Bytes of output past the log limit: counted, not kept (null when nothing was cut). */
  readonly logTruncatedBytes: number | null;
}

export interface StepRecord {
  readonly runId: string;
  readonly jobId: string;
  readonly stepIndex: number;
  readonly name: string;
  readonly status: StepStatus | "queued";
  readonly attempts: number;
  readonly exitCode: number | null;
  readonly reason: string | null;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly durationMs: number | null;
}

export interface LogLine {
  readonly ts: number;
  readonly stream: LogStream;
  readonly line: string;
}

/** Consecutive lines of one job and one step (or of the job itself when `stepIndex` is null). */
export interface LogChunk {
  readonly runId: string;
  readonly jobId: string;
  readonly stepIndex: number | null;
  /** 1, 2, 3, ... per run and job. */
  readonly seq: number;
  readonly lines: readonly LogLine[];
}

/** Lines of one `log` event: one timestamp and stream for all of them. */
export interface LogSegment {
  readonly ts: number;
  readonly stream: LogStream;
  readonly lines: readonly string[];
}

/**
 * A chunk as written: its lines either one by one (`lines`) or as the
 * blocks the engine emitted them in (`segments`, no object per line; the
 * store writer's form). Read back, both are a `LogChunk`.
 */
export type LogChunkWrite = Omit<LogChunk, "lines"> &
  (
    | { readonly lines: readonly LogLine[]; readonly segments?: undefined }
    | { readonly segments: readonly LogSegment[]; readonly lines?: undefined }
  );

export interface ArtifactRecord {
  readonly runId: string;
  readonly jobId: string;
  readonly name: string;
  readonly hash: string;
  readonly size: number;
  readonly createdAt: number;
}

/** One operation of a batch; see `Store.write`. Fields left out of a job/step upsert keep their stored value. */
export type StoreOp =
  | { readonly op: "run"; readonly run: NewRun }
  | {
      readonly op: "run.finish";
      readonly runId: string;
      readonly status: RunStatus;
      readonly finishedAt: number;
      readonly durationMs: number;
    }
  | { readonly op: "job"; readonly job: JobUpsert }
  | { readonly op: "step"; readonly step: StepUpsert }
  | { readonly op: "logs"; readonly chunk: LogChunkWrite }
  | { readonly op: "artifact"; readonly artifact: ArtifactRecord }
  | { readonly op: "cache"; readonly entry: CacheRecord }
  | { readonly op: "plan"; readonly plan: Plan }
  | { readonly op: "token"; readonly token: NewToken }
  /** Revoke a token (no change when it already is). */
  | { readonly op: "token.revoke"; readonly id: string; readonly at: number }
  | { readonly op: "audit"; readonly entry: NewAuditEntry };

export type TokenRole = "admin" | "operator" | "viewer";

/** An API token of `gantry server`; the token itself is never stored, only its SHA-256. */
export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: TokenRole;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  /** Who created it: a token id, or "cli" for `gantry server token create`. */
  readonly createdBy: string;
}

export type NewToken = Omit<TokenRecord, "revokedAt"> & { readonly hash: string };

/** A row of the audit log (migration 5): who changed what. */
export interface AuditRecord {
  readonly id: number;
  readonly at: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detail: Readonly<Record<string, unknown>> | null;
}

export interface NewAuditEntry {
  /** Default: now. */
  readonly at?: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface AuditPage {
  readonly entries: readonly AuditRecord[];
  /** Pass as `cursor` for the next (older) page; absent on the last page. */
  readonly next?: string;
}

export interface NewRun {
  readonly id: string;
  readonly workflow: string;
  readonly file: string;
  readonly trigger: string;
  readonly planHash: string | null;
  readonly startedAt: number;
  readonly owner: RunOwner | null;
  readonly parentRunId?: string | null;
}

export type JobUpsert = Pick<JobRecord, "runId" | "jobId"> & Partial<Omit<JobRecord, "runId" | "jobId">>;
export type StepUpsert = Pick<StepRecord, "runId" | "jobId" | "stepIndex"> & Partial<Omit<StepRecord, "runId" | "jobId" | "stepIndex">>;

export interface RunFilter {
  readonly workflow?: string;
  readonly status?: RunStatus;
  /** Runs whose id starts with this (for `gantry show 3f9a`). */
  readonly idPrefix?: string;
  /** Only runs started before this time (for paging). */
  readonly before?: number;
  /** Keyset paging: only runs after this one in newest-first order (start time, then id). */
  readonly after?: { readonly startedAt: number; readonly id: string };
  /** Newest first; default 50, at most 10,000. */
  readonly limit?: number;
}

export interface LogQuery {
  readonly runId: string;
  readonly jobId?: string;
  /** Lines of one step; `null` for the job's own lines (setup, artifacts). */
  readonly stepIndex?: number | null;
  /** Only chunks after these sequence numbers, by job id (for following). */
  readonly after?: Readonly<Record<string, number>>;
  /** At most this many chunks (default 1,000). */
  readonly limit?: number;
}

/** How to find an earlier successful result of the same job (job caching). */
export type CacheKey = JobCacheKey;

/** A keyed cache entry (`caches`): one blob per path. Immutable: a second write of the same key and path is ignored. */
export interface CacheRecord {
  readonly key: string;
  readonly runId: string;
  readonly jobId: string;
  readonly paths: Readonly<Record<string, { readonly hash: string; readonly size: number }>>;
  readonly createdAt: number;
}

export interface WriteOptions {
  /** Wait until the commit survives a power loss (default true); see the top of this file. */
  readonly durable?: boolean;
}

/** What `Store.compact` did: the database's bytes on disk (file + WAL) before and after. */
export interface CompactResult {
  readonly before: number;
  readonly after: number;
  /** Free pages over all pages before compacting. */
  readonly freeShare: number;
  readonly vacuumed: boolean;
}

export interface Store {
  /** "sqlite" or "postgres". */
  readonly kind: "sqlite" | "postgres";
  /** Where it is, for messages: the file path, or the URL without its password. */
  readonly location: string;

  runs: {
    get(id: string): Promise<RunRecord | undefined>;
    /** Newest first. */
    list(filter?: RunFilter): Promise<RunRecord[]>;
    /**
     * Mark `running` runs whose owner is gone (per `isAlive`) and their
     * queued/running jobs and running steps as `interrupted`/`cancelled`.
     * Returns the ids of the runs it marked.
     */
    markInterrupted(isAlive: (owner: RunOwner) => boolean, now?: number): Promise<string[]>;
    /** Delete finished runs that started before `before`, with their jobs, steps, logs, artifact rows and unused plans, and cache entries created before `before`. Returns how many runs. */
    prune(before: number): Promise<number>;
  };

  jobs: {
    /** Jobs of a run in plan order. */
    list(runId: string): Promise<JobRecord[]>;
    /** Steps of a run (or one job), by job then step index. */
    steps(runId: string, jobId?: string): Promise<StepRecord[]>;
    /** The latest successful (or cached) job with the same cache key, for `cache: true`. */
    findCached(key: CacheKey): Promise<JobRecord | undefined>;
  };

  logs: {
    /** Chunks ordered by job position then seq; `after` skips what the caller has seen. */
    read(query: LogQuery): Promise<LogChunk[]>;
  };

  artifacts: {
    list(runId: string, jobId?: string): Promise<ArtifactRecord[]>;
    /**
     * The content-addressed blob area (`<stateDir>/blobs`), the one copy of
     * every artifact and cache blob: runs save into it and every reader
     * (restores, `gantry artifacts`, the server, workers) reads through its
     * hash-checked `open`/`copyTo`.
     */
    readonly blobs: BlobDir;
    /**
     * Copy a blob into the content-addressed area (`<stateDir>/blobs/<aa>/<hash>`),
     * checking its hash; a blob already there is not copied again. Call it before
     * writing the artifact row that refers to it.
     */
    putBlob(hash: string, sourcePath: string): Promise<void>;
    /** Absolute path of a stored blob, or undefined when it is missing. */
    blobPath(hash: string): Promise<string | undefined>;
    /** Delete blobs no artifact or cache row refers to (and older than `graceMs`, default 1 hour). */
    sweepBlobs(graceMs?: number): Promise<{ blobs: number; bytes: number }>;
  };

  caches: {
    /** The entry with exactly `key`, else the newest whose key starts with the first of `prefixes` that matches any. */
    find(key: string, prefixes?: readonly string[]): Promise<CacheRecord | undefined>;
  };

  plans: {
    get(hash: string): Promise<Plan | undefined>;
    putBundle(hash: string, code: string): Promise<void>;
    getBundle(hash: string): Promise<string | undefined>;
  };

  /** The audit log, newest first (write rows with the `audit` op, in the transaction of the change). */
  audit: {
    list(query?: { readonly limit?: number; readonly cursor?: string }): Promise<AuditPage>;
  };

  /**
   * The store's random key named `name` (migration 4, `store_keys`), made on
   * first use (concurrent first uses agree on one value). `cache-hmac` keys
   * the HMAC of secret values in the `cache: true` env hash.
   */
  secretKey(name: string): Promise<string>;

  tokens: {
    /** The token whose SHA-256 is `hash` (revoked and expired ones too: the caller decides). */
    findByHash(hash: string): Promise<(TokenRecord & { readonly hash: string }) | undefined>;
    get(id: string): Promise<TokenRecord | undefined>;
    /** Oldest first. */
    list(): Promise<TokenRecord[]>;
    count(): Promise<number>;
  };

  /** Runs and jobs by status (for metrics). */
  counts(): Promise<{ runs: Record<string, number>; jobs: Record<string, number> }>;
  /**
   * Give back the space deleted rows left (after `runs.prune`): SQLite runs
   * `VACUUM` (then truncates the WAL) when free pages are at least
   * `minFreeShare` (default 0.25) of the file; PostgreSQL leaves it to
   * autovacuum and returns undefined. Needs no other transaction open on this
   * connection; another process writing makes it wait (`busy_timeout`).
   */
  compact(options?: { readonly minFreeShare?: number }): Promise<CompactResult | undefined>;
  /** The highest migration applied (for readiness checks). */
  schemaVersion(): Promise<number>;

  /** The server's queue, leases and per-run event log (`queue/types.ts` has the contract; migration 5). */
  readonly queue: QueueStore;

  /** Webhook deliveries and the commit-status outbox (`hooks.ts` has the contract; migration 8). */
  readonly hooks: HookStore;

  /** Apply `ops` in order in one transaction (see the top of this file). */
  write(ops: readonly StoreOp[], options?: WriteOptions): Promise<void>;
  /** Create or upgrade the schema; see migrations/index.ts. Returns the versions applied. */
  migrate(): Promise<number[]>;
  close(): Promise<void>;
}
