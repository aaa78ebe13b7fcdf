/**
 * The store writer: a subscriber of the event map that turns a run's events
 * into rows (run, jobs, steps, log chunks, artifacts, plan) and commits them
 * in batches.
 *
 * Contract (like a reporter's):
 * - `onEvent` is called synchronously by the bus, once per event, in order.
 *   It only appends to in-memory buffers and never waits for the database.
 * - Batches are written one at a time, each in one transaction (`Store.write`):
 *   when `batchLines` log lines are pending, at the end of a job or the run,
 *   and otherwise `flushIntervalMs` after the first pending change.
 * - Log lines of one job and step are grouped into chunks of at most
 *   `chunkLines` lines; each job's chunks are numbered 1, 2, 3, ...
 * - `flush()` resolves once everything received before the call is
 *   committed, and rejects if that write failed (the failed batch stays
 *   queued and is retried by the next flush, up to 3 times).
 * - `close()` flushes, stops the timer and ignores later events. Call it
 *   after `run.finished`, before the process exits.
 * - Write errors never reach the engine: they go to `onError` (once per
 *   distinct message) and make `flush`/`close` reject.
 */
import { currentOwner } from "./owner.js";
import type { FlowGate, GantryEvent } from "../core/events.js";
import { coerceError } from "../core/errors.js";
import type { LogLine, RunOwner, Store, StoreOp } from "./store.js";

export interface StoreWriterOptions {
  /** Only events of this run (default: every run on the bus). */
  readonly runId?: string;
  /** What started the run: "manual" (default), "push", "cron", "rerun", ... */
  readonly trigger?: string;
  readonly parentRunId?: string;
  /** The owning process (default: this one), used to find interrupted runs. */
  readonly owner?: RunOwner;
  /** Where the engine wrote the blob of an artifact with this hash; the writer copies it into the store's blob area. */
  readonly blobPath?: (hash: string) => string | undefined;
  /** The code of the workflow bundle with this hash, stored once per hash. */
  readonly bundleCode?: (hash: string) => Promise<string | undefined> | string | undefined;
  readonly chunkLines?: number;
  readonly batchLines?: number;
  readonly flushIntervalMs?: number;
  readonly onError?: (error: Error) => void;
  /**
   * Back-pressure (the bus's `flow`): past `maxPendingLines` uncommitted log
   * lines (default 100,000) the writer holds the producers until a commit
   * brings it back under, so a slow database pauses the steps' output
   * instead of filling memory.
   */
  readonly flow?: FlowGate;
  readonly maxPendingLines?: number;
}

export interface StoreWriter {
  /** The bus listener: `bus.subscribe(writer.onEvent)`. */
  readonly onEvent: (event: GantryEvent) => void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Log lines committed so far. */
  readonly committedLines: number;
}

interface OpenChunk {
  runId: string;
  jobId: string;
  stepIndex: number | null;
  lines: LogLine[];
}

const MAX_ATTEMPTS = 3;

class Writer implements StoreWriter {
  private ops: StoreOp[] = [];
  /** Lines in `ops` and in open chunks that are not committed yet. */
  private pendingLines = 0;
  /** Open chunk and last sequence number by `runId \0 jobId`. */
  private readonly open = new Map<string, OpenChunk>();
  private readonly seqs = new Map<string, number>();
  private readonly started = new Set<string>();
  private tasks: Array<Promise<void>> = [];
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private immediate = false;
  /** A scheduled flush is chained and has not taken the queue yet. */
  private flushQueued = false;
  private closed = false;
  private failures = 0;
  private readonly reported = new Set<string>();
  committedLines = 0;

  constructor(
    private readonly store: Store,
    private readonly options: StoreWriterOptions,
  ) {}

  readonly onEvent = (event: GantryEvent): void => {
    if (this.closed || (this.options.runId !== undefined && event.runId !== this.options.runId)) return;
    this.handle(event);
  };

  private handle(e: GantryEvent): void {
    switch (e.type) {
      case "run.started": {
        const plan = e.plan;
        this.ops.push({ op: "plan", plan });
        this.ops.push({
          op: "run",
          run: {
            id: e.runId,
            workflow: plan.workflow.name,
            file: plan.workflow.file,
            trigger: this.options.trigger ?? "manual",
            planHash: plan.hash,
            startedAt: e.ts,
            owner: this.options.owner ?? currentOwner(),
            parentRunId: this.options.parentRunId ?? null,
          },
        });
        const reused = new Set(e.reused ?? []);
        const selected = new Set([...e.jobIds, ...reused]);
        plan.jobs.forEach((job, position) => {
          if (selected.size > 0 && !selected.has(job.id)) return;
          const { id: jobId, key, name, matrix, needs, executor, hash: jobHash } = job;
          this.ops.push({
            op: "job",
            job: {
              runId: e.runId,
              jobId,
              key,
              name,
              matrix,
              needs: [...needs],
              executor,
              jobHash,
              position,
              status: "queued",
              attempts: 0,
            },
          });
          // A reused job ran its steps in an earlier run: `gantry show` of that run has them.
          if (reused.has(jobId)) return;
          for (const step of job.steps) {
            this.ops.push({
              op: "step",
              step: { runId: e.runId, jobId, stepIndex: step.index, name: step.name, status: "queued", attempts: 0 },
            });
          }
        });
        const code = this.options.bundleCode;
        if (code && plan.bundle) {
          this.task(async () => {
            const text = await code(plan.bundle);
            if (text !== undefined) await this.store.plans.putBundle(plan.bundle, text);
          });
        }
        this.schedule(false);
        return;
      }
      case "job.started": {
        const first = !this.started.has(e.jobId);
        this.started.add(e.jobId);
        this.ops.push({
          op: "job",
          job: {
            runId: e.runId,
            jobId: e.jobId,
            status: "running",
            attempts: e.attempt,
            executor: e.executor,
            ...(first ? { startedAt: e.ts } : { location: null }),
          },
        });
        this.schedule(false);
        return;
      }
      case "job.location":
        this.ops.push({ op: "job", job: { runId: e.runId, jobId: e.jobId, location: e.location } });
        this.schedule(false);
        return;
      case "job.finished": {
        this.seal(chunkKey(e.runId, e.jobId));
        const key = e.status === "success" || e.status === "cached" ? e.cacheKey : undefined;
        this.ops.push({
          op: "job",
          job: {
            runId: e.runId,
            jobId: e.jobId,
            status: e.status,
            attempts: e.attempts,
            outputs: e.outputs,
            reason: e.reason ?? null,
            finishedAt: e.ts,
            durationMs: e.durationMs,
            ...(this.started.has(e.jobId) ? {} : { startedAt: e.ts - e.durationMs }),
            ...(key ? { inputsHash: key.inputsHash, envHash: key.envHash } : {}),
          },
        });
        this.schedule(true);
        return;
      }
      case "step.started":
        this.ops.push({
          op: "step",
          step: {
            runId: e.runId,
            jobId: e.jobId,
            stepIndex: e.stepIndex,
            name: e.name,
            status: "running",
            attempts: e.attempt,
            ...(e.attempt === 1 ? { startedAt: e.ts } : {}),
          },
        });
        this.schedule(false);
        return;
      case "step.finished":
        this.ops.push({
          op: "step",
          step: {
            runId: e.runId,
            jobId: e.jobId,
            stepIndex: e.stepIndex,
            name: e.name,
            status: e.status,
            attempts: e.attempts,
            exitCode: e.exitCode,
            reason: e.reason ?? null,
            finishedAt: e.ts,
            durationMs: e.durationMs,
          },
        });
        this.schedule(false);
        return;
      case "log": {
        const stepIndex = e.stepIndex ?? null;
        const key = chunkKey(e.runId, e.jobId);
        let chunk = this.open.get(key);
        if (chunk && chunk.stepIndex !== stepIndex) {
          this.seal(key);
          chunk = undefined;
        }
        if (!chunk) this.open.set(key, (chunk = { runId: e.runId, jobId: e.jobId, stepIndex, lines: [] }));
        for (const line of e.lines) chunk.lines.push({ ts: e.ts, stream: e.stream, line });
        this.pendingLines += e.lines.length;
        if (this.options.flow && this.pendingLines >= (this.options.maxPendingLines ?? 100_000)) this.options.flow.hold(this);
        if (chunk.lines.length >= (this.options.chunkLines ?? 1000)) this.seal(key);
        this.schedule(this.pendingLines >= (this.options.batchLines ?? 20_000));
        return;
      }
      case "artifact.saved": {
        const op: StoreOp = {
          op: "artifact",
          artifact: { runId: e.runId, jobId: e.jobId, name: e.name, hash: e.hash, size: e.size, createdAt: e.ts },
        };
        this.afterBlobs([e.hash], op);
        this.schedule(false);
        return;
      }
      case "cache.saved": {
        const entry = { key: e.key, runId: e.runId, jobId: e.jobId, paths: e.paths, createdAt: e.ts };
        this.afterBlobs(
          Object.values(e.paths).map((p) => p.hash),
          { op: "cache", entry },
        );
        this.schedule(false);
        return;
      }
      case "run.finished":
        for (const key of [...this.open.keys()]) this.seal(key);
        this.ops.push({ op: "run.finish", runId: e.runId, status: e.status, finishedAt: e.ts, durationMs: e.durationMs });
        this.schedule(true);
        return;
      default:
        return;
    }
  }

  /** Move a job's open chunk to the queue with the job's next sequence number. */
  private seal(key: string): void {
    const chunk = this.open.get(key);
    if (!chunk) return;
    this.open.delete(key);
    const seq = (this.seqs.get(key) ?? 0) + 1;
    this.seqs.set(key, seq);
    this.ops.push({ op: "logs", chunk: { runId: chunk.runId, jobId: chunk.jobId, stepIndex: chunk.stepIndex, seq, lines: chunk.lines } });
  }

  /**
   * Queue `op` once the blobs it refers to are copied into the store (from
   * `blobPath`), so a row never points at a missing blob; at once when none
   * has a source here.
   */
  private afterBlobs(hashes: readonly string[], op: StoreOp): void {
    const sources: Array<readonly [string, string]> = [];
    for (const hash of hashes) {
      const source = this.options.blobPath?.(hash);
      if (source) sources.push([hash, source]);
    }
    if (sources.length === 0) {
      this.ops.push(op);
      return;
    }
    this.task(
      async () => {
        for (const [hash, source] of sources) await this.store.artifacts.putBlob(hash, source);
      },
      () => this.ops.push(op),
    );
  }

  private task(fn: () => Promise<void>, then?: () => void): void {
    this.tasks.push(
      fn().then(then, (error) => {
        this.report(coerceError(error));
      }),
    );
  }

  private schedule(now: boolean): void {
    // A flush that is queued but not started yet will take everything: nothing more to schedule.
    if (this.flushQueued) return;
    if (now) {
      if (this.immediate) return;
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        this.flushQueued = true;
        this.flush().catch(() => undefined);
      });
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushQueued = true;
      this.flush().catch(() => undefined);
    }, this.options.flushIntervalMs ?? 200);
    this.timer.unref();
  }

  private report(error: Error): void {
    if (this.reported.has(error.message)) return;
    this.reported.add(error.message);
    this.options.onError?.(error);
  }

  flush(): Promise<void> {
    const result = this.chain.then(() => this.writeBatch());
    this.chain = result.catch(() => undefined);
    return result;
  }

  private releaseFlow(): void {
    if (this.pendingLines < (this.options.maxPendingLines ?? 100_000)) this.options.flow?.release(this);
  }

  private async writeBatch(): Promise<void> {
    this.flushQueued = false;
    while (this.tasks.length > 0) await Promise.all(this.tasks.splice(0));
    for (const key of [...this.open.keys()]) this.seal(key);
    const ops = this.ops;
    if (ops.length === 0) return;
    this.ops = [];
    let lines = 0;
    for (const op of ops) if (op.op === "logs") lines += op.chunk.lines.length;
    try {
      await this.store.write(ops);
      this.failures = 0;
      this.committedLines += lines;
      this.pendingLines -= lines;
      this.releaseFlow();
    } catch (error) {
      const e = coerceError(error);
      this.failures += 1;
      if (this.failures < MAX_ATTEMPTS) this.ops = [...ops, ...this.ops];
      else {
        this.failures = 0;
        this.pendingLines -= lines;
        this.releaseFlow();
      }
      this.report(e);
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      await this.flush();
    } finally {
      this.options.flow?.release(this);
    }
  }
}

function chunkKey(runId: string, jobId: string): string {
  return `${runId}\u0000${jobId}`;
}

export function createStoreWriter(store: Store, options: StoreWriterOptions = {}): StoreWriter {
  return new Writer(store, options);
}
