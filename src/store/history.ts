/**
 * The store side of `gantry rerun` and job caching, kept pure where it can be:
 *
 * - `loadPreviousRun` fetches what a re-run needs: the run, its plan (and
 *   bundle), its jobs and artifacts.
 * - `selectRerun` decides which jobs run again: all the previous run had, or with `failedOnly`, the jobs
 *   that failed, were cancelled, timed out or never finished, plus every job
 *   that needs one of them (transitively); the rest are reused.
 * - `restoredJobs` turns the reused jobs into the engine's `restore` shape
 *   (status, outputs, artifacts with their blob paths in the store).
 * - `jobCacheKey` is the key of `cache: true`: the job hash, the content
 *   hashes of its input artifacts, and the hash of its env (keys and values).
 *   Secret values enter the env hash as an HMAC keyed by the store (the
 *   engine asks `RunCache.secretDigest`), never as a plain hash.
 */
import { GantryError } from "../core/errors.js";
import { hashValue } from "../core/hash.js";
import type { JobStatus } from "../core/context.js";
import type { Plan } from "../core/plan-types.js";
import type { ArtifactRecord, CacheKey, JobRecord, RunRecord, Store } from "./store.js";

export interface PreviousRun {
  readonly run: RunRecord;
  readonly plan: Plan;
  /** The bundle's code when the store has it. */
  readonly bundle: string | undefined;
  readonly jobs: readonly JobRecord[];
  readonly artifacts: readonly ArtifactRecord[];
}

/** Same shape as the engine's `RestoredJob` (src/engine/run.ts). */
export interface RestoredJobRecord {
  readonly status: JobStatus;
  readonly outputs: Readonly<Record<string, string>>;
  readonly artifacts: Readonly<Record<string, { readonly hash: string; readonly size: number }>>;
}

/** Statuses that `rerun --failed` runs again (queued/running: the run was interrupted before they finished). */
export const RERUN_STATUSES: ReadonlySet<JobStatus> = new Set(["failure", "cancelled", "timed_out", "queued", "running"]);

export async function loadPreviousRun(store: Store, runId: string): Promise<PreviousRun> {
  const run = await store.runs.get(runId);
  if (!run) throw new GantryError("USAGE", `no run "${runId}" in ${store.location}`);
  if (run.status === "running")
    throw new GantryError("USAGE", `run ${run.id} is still running; wait for it (gantry logs ${run.id} -f) before re-running it`);
  const plan = run.planHash ? await store.plans.get(run.planHash) : undefined;
  if (!plan)
    throw new GantryError(
      "USAGE",
      `run ${run.id} has no stored plan${run.planHash ? ` (${run.planHash.slice(0, 12)} was deleted by gc?)` : ""}; it cannot be re-run`,
    );
  const [bundle, jobs, artifacts] = await Promise.all([
    store.plans.getBundle(plan.bundle),
    store.jobs.list(run.id),
    store.artifacts.list(run.id),
  ]);
  return { run, plan, bundle, jobs, artifacts };
}

/** Which jobs of `plan` run again and which are reused from the previous run's `jobs`. */
export function selectRerun(
  plan: Plan,
  jobs: readonly Pick<JobRecord, "jobId" | "status">[],
  options: { failedOnly: boolean },
): { rerun: string[]; reuse: string[] } {
  const status = new Map(jobs.map((j) => [j.jobId, j.status]));
  // Without --failed: every job the previous run had (a `-j` run stays that selection), or all of the plan.
  if (!options.failedOnly) return { rerun: plan.jobs.filter((j) => status.size === 0 || status.has(j.id)).map((j) => j.id), reuse: [] };
  const again = new Set<string>();
  // plan.jobs is in topological order: a job's needs are decided before the job.
  for (const job of plan.jobs) {
    const s = status.get(job.id);
    if (s === undefined) continue; // not part of the previous run (a -j selection): leave it out
    if (RERUN_STATUSES.has(s) || job.needs.some((n) => again.has(n))) again.add(job.id);
  }
  const rerun = plan.jobs.filter((j) => again.has(j.id)).map((j) => j.id);
  const reuse = plan.jobs.filter((j) => status.has(j.id) && !again.has(j.id)).map((j) => j.id);
  return { rerun, reuse };
}

/** The engine's `restore.jobs` for the reused jobs; fails when a blob they need is gone. */
export async function restoredJobs(
  store: Store,
  previous: PreviousRun,
  reuse: readonly string[],
): Promise<Record<string, RestoredJobRecord>> {
  const out: Record<string, RestoredJobRecord> = {};
  for (const jobId of reuse) {
    const job = previous.jobs.find((j) => j.jobId === jobId);
    if (!job) continue;
    const artifacts: Record<string, { hash: string; size: number }> = {};
    for (const a of previous.artifacts.filter((x) => x.jobId === jobId)) {
      if (!(await store.artifacts.blobs.has(a.hash))) {
        throw new GantryError(
          "ARTIFACT_INVALID",
          `artifact "${a.name}" of ${jobId} in run ${previous.run.id} is no longer stored (blob ${a.hash.slice(0, 12)}); run the whole workflow again`,
        );
      }
      artifacts[a.name] = { hash: a.hash, size: a.size };
    }
    out[jobId] = { status: job.status, outputs: job.outputs, artifacts };
  }
  return out;
}

/** The cache key of a job: same job hash, same input artifact contents, same env (keys and values). */
export function jobCacheKey(jobHash: string, inputs: Readonly<Record<string, string>>, env: Readonly<Record<string, string>>): CacheKey {
  return { jobHash, inputsHash: hashValue(inputs), envHash: hashValue(env) };
}
