/**
 * Embedded workers: `count` loops that claim jobs from a `WorkSource` and run
 * each with the engine (`runPlan` restricted to that job, its needs restored
 * from their recorded results and artifact blobs) on the existing executors:
 * TypeScript steps from the run's bundle, the repository from the run's
 * snapshot blob, env and secrets resolved at claim time (secrets go to the
 * redactor, so every event is redacted before it leaves the worker).
 *
 * The job's events are appended in batches (`flushMs`) under the fencing
 * check; a blob is put before the event that names it. A heartbeat every
 * `leaseMs / 3` keeps the lease; when it is lost (`LEASE_LOST`) the job's
 * processes are killed (both signals abort) and nothing more is written for
 * it. A cancel of the run (heard at the heartbeat) stops the job as a user
 * cancel would. `stop()` stops claiming, waits up to `drainMs` for running
 * jobs, then cancels them.
 */
import { createReadStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Workflow } from "../core/definition.js";
import { coerceError, GantryError } from "../core/errors.js";
import { EventBus, type GantryEvent } from "../core/events.js";
import type { PlanExecutor } from "../core/plan-types.js";
import { runPlan, type RestoredJob } from "../engine/run.js";
import { resolveEnv } from "../env/resolve.js";
import { builtinExecutorKinds } from "../executors/builtin.js";
import { createContainerRuntime } from "../executors/container/index.js";
import { extractTar } from "../executors/shared/tar-local.js";
import { materializeBundle } from "../loader/bundle.js";
import { loadBundle } from "../loader/load.js";
import type { WorkItem, WorkSource } from "../queue/worker.js";
import { BlobDir } from "../store/blobs.js";

export interface WorkersOptions {
  readonly source: WorkSource;
  readonly count: number;
  /** Prefix of the worker ids (`<id>/1`, `<id>/2`, ...): host and pid by default. */
  readonly id: string;
  /** Scratch space: job directories, materialised bundles. */
  readonly dataDir: string;
  /** The server's environment: base of local jobs' env and of `env.required`. */
  readonly processEnv?: Readonly<Record<string, string | undefined>>;
  /** How long events wait to be appended together (default 100 ms). */
  readonly flushMs?: number;
  readonly onError?: (error: Error, item?: WorkItem) => void;
}

export interface Workers {
  /** Jobs running now. */
  running(): number;
  /** Stop claiming; wait up to `drainMs` (default 60 s) for running jobs, then cancel them and wait for them to end. */
  stop(options?: { readonly drainMs?: number }): Promise<void>;
}

const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80);

export function startWorkers(options: WorkersOptions): Workers {
  const { source } = options;
  const stopping = new AbortController();
  const active = new Set<AbortController>();
  const containers = createContainerRuntime();
  const executorFor = (def: PlanExecutor) => {
    const kind = builtinExecutorKinds.get(def.kind);
    if (!kind) throw new GantryError("USAGE", `executor "${def.name}" is of kind "${def.kind}", which this server cannot run`);
    return kind.create(def, { containers });
  };
  const report = (error: unknown, item?: WorkItem): void => {
    try {
      options.onError?.(coerceError(error), item);
    } catch {
      // a failing logger must not stop a worker
    }
  };

  async function loop(n: number): Promise<void> {
    const workerId = `${options.id}/${n}`;
    while (!stopping.signal.aborted) {
      let items: WorkItem[];
      try {
        items = await source.claim({ workerId, max: 1, waitMs: 2000, signal: stopping.signal });
      } catch (error) {
        report(error);
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const item of items) {
        const cancel = new AbortController();
        active.add(cancel);
        try {
          await runItem(item, cancel);
        } catch (error) {
          report(error, item);
        } finally {
          active.delete(cancel);
        }
      }
    }
  }

  async function runItem(item: WorkItem, cancel: AbortController): Promise<void> {
    const { lease, plan, spec } = item;
    const force = new AbortController();
    let lost = false;
    const workDir = join(options.dataDir, "work", safeName(lease.runId), `${safeName(lease.jobId)}.${lease.attempt}`);
    const repoDir = join(workDir, "repo");
    const runDir = join(workDir, "run");
    await rm(workDir, { recursive: true, force: true });
    await mkdir(runDir, { recursive: true });
    await mkdir(repoDir, { recursive: true });
    // The job's own blob area (scratch): what it saves is put into the source's store from here.
    const blobs = new BlobDir(join(workDir, "blobs"));
    const fetchBlob = async (hash: string): Promise<boolean> => {
      const tmp = join(workDir, `fetch-${hash}`);
      if (!(await source.getBlob(hash, tmp))) return false;
      await blobs.put(hash, tmp);
      await rm(tmp, { force: true });
      return true;
    };

    // Events of this job, appended in order, one batch at a time; a blob goes in before the event naming it.
    let pending: GantryEvent[] = [];
    let chain: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const loseLease = (error: unknown): void => {
      if ((error as GantryError).code === "LEASE_LOST") {
        lost = true;
        force.abort(new GantryError("CANCELLED", "the job's lease was lost"));
        cancel.abort(new GantryError("CANCELLED", "the job's lease was lost"));
      } else report(error, item);
    };
    const flush = (): Promise<void> => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const batch = pending;
      pending = [];
      chain = chain.then(async () => {
        if (lost || batch.length === 0) return;
        try {
          for (const e of batch) {
            if (e.type === "artifact.saved") await source.putBlob(lease, e.hash, blobs.pathOf(e.hash));
            if (e.type === "cache.saved") {
              for (const p of Object.values(e.paths)) await source.putBlob(lease, p.hash, blobs.pathOf(p.hash));
            }
          }
          await source.append(lease, batch);
        } catch (error) {
          loseLease(error);
        }
      });
      return chain;
    };
    const bus = new EventBus((error) => report(error, item));
    // The engine runs under an id of its own per attempt: executors key their scratch space by run id, and two
    // jobs of one run on two workers of this process must not share (and remove) each other's. Events carry the run's id.
    const engineRunId = `${lease.runId}.${safeName(lease.jobId)}.${lease.attempt}`;
    let logCut: { logLimit: number; logTruncatedBytes: number } | undefined;
    bus.subscribe((e) => {
      if (e.type === "job.finished" && e.jobId === lease.jobId && e.logTruncatedBytes !== undefined)
        logCut = { logLimit: e.logLimit ?? 0, logTruncatedBytes: e.logTruncatedBytes };
      if (!("jobId" in e) || e.jobId !== lease.jobId || e.type === "job.finished") return;
      pending.push({ ...e, runId: lease.runId });
      timer ??= setTimeout(() => void flush(), options.flushMs ?? 100);
    });

    const beat = setInterval(
      () => {
        source.heartbeat(lease).then((h) => {
          if (h.cancelRequested && !cancel.signal.aborted) cancel.abort(new GantryError("CANCELLED", "the run was cancelled"));
        }, loseLease);
      },
      Math.max(50, Math.floor(source.leaseMs / 3)),
    );
    try {
      if (spec.snapshot) {
        const tar = join(workDir, "snapshot.tar");
        if (!(await source.getBlob(spec.snapshot, tar)))
          throw new Error(`the repository snapshot ${spec.snapshot.slice(0, 12)} is not in the store`);
        await extractTar(createReadStream(tar), repoDir, ".");
      }
      const code = await source.bundle(spec.bundleHash);
      let workflow: Workflow | undefined;
      if (code !== undefined) {
        const stateDir = join(options.dataDir, "worker-state");
        const { hash } = await materializeBundle(code, { repoDir, stateDir });
        workflow = await loadBundle(hash, stateDir, { repoDir, file: plan.workflow.file });
      }
      const processEnv = options.processEnv ?? process.env;
      const env = await resolveEnv(workflow?.env ?? [], {
        repoDir,
        workflowFile: plan.workflow.file,
        workflowName: plan.workflow.name,
        processEnv,
        cli: { env: { ...(spec.env ?? {}) } },
      });
      const restore: Record<string, RestoredJob> = {};
      for (const [id, need] of Object.entries(item.needs)) {
        const artifacts: Record<string, { hash: string; size: number }> = {};
        for (const [name, a] of Object.entries(need.artifacts)) {
          if (await fetchBlob(a.hash)) artifacts[name] = { hash: a.hash, size: a.size };
        }
        restore[id] = { status: need.status, outputs: need.outputs, artifacts, reason: "from an earlier job of this run" };
      }
      if (item.cancelRequested) cancel.abort(new GantryError("CANCELLED", "the run was cancelled"));
      const result = await runPlan({
        plan,
        ...(workflow ? { workflow } : {}),
        executorFor,
        bus,
        runId: engineRunId,
        repoDir,
        runDir,
        blobs,
        env: { values: env.values, secretValues: env.secretValues },
        processEnv,
        concurrency: 1,
        failFast: false,
        select: { jobs: [lease.jobId], only: false },
        restore: { jobs: restore },
        signal: cancel.signal,
        forceSignal: force.signal,
        containers,
      });
      await flush();
      const job = result.jobs[lease.jobId];
      if (lost || !job) return;
      await source.finish(lease, {
        status: job.status,
        attempts: job.attempts,
        outputs: job.outputs,
        durationMs: job.durationMs,
        ...(job.reason !== undefined ? { reason: job.reason } : {}),
        ...logCut,
      });
    } catch (error) {
      await flush();
      if (lost) return;
      // An infrastructure fault before or around the job: it ends failed with the reason (the run goes on).
      const reason = `worker error: ${coerceError(error).message}`;
      await source.finish(lease, { status: "failure", attempts: 1, outputs: {}, durationMs: 0, reason }).catch(loseLease);
    } finally {
      clearInterval(beat);
      await chain;
      await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  const loops = Array.from({ length: Math.max(0, options.count) }, (_, i) => loop(i + 1));

  return {
    running: () => active.size,
    async stop({ drainMs = 60_000 } = {}) {
      stopping.abort();
      const all = Promise.all(loops);
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        all.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), drainMs))),
      ]);
      if (timer) clearTimeout(timer);
      if (!drained) for (const c of active) c.abort(new GantryError("CANCELLED", "the server is stopping"));
      await all;
    },
  };
}
