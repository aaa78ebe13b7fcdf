/**
 * The store writer: a subscriber of the event map that turns a run's events
 * into rows (run, jobs, steps, log chunks, artifacts, plan) and commits them
 * in batches.
 *
 * Contract (like a reporter's):
 * - `onEvent` is called synchronously by the bus, once per event, in order.
 *   It only appends to in-memory buffers and never waits for the database.
 * - Batches are written one at a time, each in one transaction (`Store.write`),
 *   in the order of the events. Job and step changes are coalesced: a batch
 *   is written `flushIntervalMs` after the first pending change, or at once
 *   when `batchLines` log lines (or 2 Mi characters of them) are pending. Only `run.finished`, `flush()`
 *   and `close()` force a commit, and only those commits are durable across
 *   a power loss; the batches between them are committed without waiting for
 *   the disk (they survive a killed process, not a power cut).
 * - Log lines of one job and step are grouped into chunks of at most
 *   `chunkLines` lines, kept as the arrays the `log` events carried (no
 *   object per line); each job's chunks are numbered 1, 2, 3, ...
 * - When a write fails (the database is down, the disk is full), nothing is
 *   dropped: the batch stays queued, in order, and is retried with backoff
 *   (`retryMs` doubling up to 5 s) while the run goes on. Past
 *   `maxPendingLines` pending lines the queue is appended to `spillFile`
 *   (fsync'd) and memory is freed; once the store is back the file is
 *   written first, then the rest.
 * - `flush()` resolves once everything received before the call is
 *   committed, and rejects if that write failed (it stays queued).
 * - `close()` flushes, retrying up to `giveUpMs`; then it appends what is
 *   still not recorded to `spillFile` and rejects with a `StoreUnrecordedError`
 *   saying what was not recorded and where the copy is (`replayPending`
 *   writes it at the next `openStore`). Later events are ignored.
 * - Write errors never reach the engine: they go to `onError` (once per
 *   distinct message, and `onRecovered` once the store takes writes again).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { FlowGate, GantryEvent } from "../core/events.js";
import { coerceError, GantryError } from "../core/errors.js";
import { artifactOp, cacheOp, stepOp } from "./event-rows.js";
import { currentOwner } from "./owner.js";
import { PendingFile } from "./pending.js";
import type { LogSegment, RunOwner, Store, StoreOp } from "./store.js";

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
  /** First retry delay after a failed write (default 250 ms; doubles up to 5 s). */
  readonly retryMs?: number;
  /** How long `close()` keeps retrying before it gives up (default 60 s). */
  readonly giveUpMs?: number;
  /** Where to keep what the store does not take (`<stateDir>/pending/<run>.jsonl`); without it, all of it stays in memory. */
  readonly spillFile?: string;
  /** Pending log lines kept in memory while the store fails, before they go to `spillFile` (default 100,000). */
  readonly maxPendingLines?: number;
  /** Pending log text (characters) kept in memory, like `maxPendingLines` (default 8 Mi): whichever is reached first. */
  readonly maxPendingBytes?: number;
  readonly onError?: (error: Error) => void;
  /**
   * Back-pressure (the bus's `flow`): while the store takes writes but more
   * than `maxPendingLines` log lines or `maxPendingBytes` characters of log
   * text wait in memory (a slow database), the
   * writer holds the producers, so the steps' output pauses instead of
   * filling memory. While the store fails it does not hold: the run goes on
   * and the queue spills to `spillFile`.
   */
  readonly flow?: FlowGate;
  /** The store takes writes again after errors. */
  readonly onRecovered?: () => void;
}

/** `close()` gave up: part of the run is only in `file` (or nowhere, without a spill file). */
export class StoreUnrecordedError extends GantryError {
  constructor(
    message: string,
    readonly file: string | undefined,
    options: { cause: unknown },
  ) {
    super("STORE_FAILED", message, { ...options, retryable: true });
  }
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
  /** The `log` events' line arrays as they came (no object per line). */
  segments: LogSegment[];
  lines: number;
}

class Writer implements StoreWriter {
  private ops: StoreOp[] = [];
  /** Lines in `ops` and in open chunks that are not committed yet. */
  private pendingLines = 0;
  /** Characters of those lines (plus one per line). */
  private pendingBytes = 0;
  /** Open chunk and last sequence number by `runId \0 jobId`. */
  private readonly open = new Map<string, OpenChunk>();
  private readonly seqs = new Map<string, number>();
  private readonly started = new Set<string>();
  private tasks: Array<Promise<void>> = [];
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = 0;
  private immediate = false;
  /** A scheduled flush is chained and has not taken the queue yet. */
  private flushQueued = false;
  /** `run.finished` was seen: the next batch is a durable commit. */
  private durableNext = false;
  private closed = false;
  /** The last write failed with this (cleared by the next success). */
  private failing: Error | undefined;
  private spilling = false;
  /** Pending lines that are in the spill file, not in memory. */
  private spilledLines = 0;
  private spilledBytes = 0;
  private readonly spill: PendingFile | undefined;
  private readonly reported = new Set<string>();
  committedLines = 0;

  constructor(
    private readonly store: Store,
    private readonly options: StoreWriterOptions,
  ) {
    if (options.spillFile) this.spill = new PendingFile(options.spillFile, options.runId ?? "", options.owner ?? currentOwner());
  }

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
            ...(e.logTruncatedBytes !== undefined ? { logLimit: e.logLimit ?? null, logTruncatedBytes: e.logTruncatedBytes } : {}),
          },
        });
        this.schedule(false);
        return;
      }
      case "step.started":
      case "step.finished":
        this.ops.push(stepOp(e));
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
        const max = this.options.chunkLines ?? 1000;
        const all = e.lines;
        for (let from = 0; from < all.length;) {
          if (!chunk) this.open.set(key, (chunk = { runId: e.runId, jobId: e.jobId, stepIndex, segments: [], lines: 0 }));
          const take = Math.min(all.length - from, max - chunk.lines);
          const lines = take === all.length ? all : all.slice(from, from + take);
          chunk.segments.push({ ts: e.ts, stream: e.stream, lines });
          chunk.lines += take;
          from += take;
          if (chunk.lines >= max) {
            this.seal(key);
            chunk = undefined;
          }
        }
        this.pendingLines += all.length;
        this.pendingBytes += textBytes(all);
        this.updateFlow();
        this.schedule(this.pendingLines >= (this.options.batchLines ?? 20_000) || this.pendingBytes >= BATCH_BYTES);
        return;
      }
      case "artifact.saved":
        this.afterBlobs([e.hash], artifactOp(e));
        this.schedule(false);
        return;
      case "cache.saved":
        this.afterBlobs(
          Object.values(e.paths).map((p) => p.hash),
          cacheOp(e),
        );
        this.schedule(false);
        return;
      case "run.finished":
        for (const key of [...this.open.keys()]) this.seal(key);
        this.ops.push({ op: "run.finish", runId: e.runId, status: e.status, finishedAt: e.ts, durationMs: e.durationMs });
        this.durableNext = true;
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
    this.ops.push({
      op: "logs",
      chunk: { runId: chunk.runId, jobId: chunk.jobId, stepIndex: chunk.stepIndex, seq, segments: chunk.segments },
    });
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
    // While the store fails, the retry timer writes; past the memory bound, the queue goes to the spill file.
    if (this.failing) {
      if (this.overBound() && this.spill && !this.spilling) {
        this.spilling = true;
        this.enqueue(() => this.spillNow()).catch((error) => this.report(coerceError(error)));
      }
      return;
    }
    if (now) {
      if (this.immediate) return;
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        this.flushQueued = true;
        this.write().catch(() => undefined);
      });
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushQueued = true;
      this.write().catch(() => undefined);
    }, this.options.flushIntervalMs ?? 200);
    this.timer.unref();
  }

  private report(error: Error): void {
    if (this.reported.has(error.message)) return;
    this.reported.add(error.message);
    this.options.onError?.(error);
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.chain.then(fn);
    this.chain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  flush(): Promise<void> {
    return this.enqueue(() => this.writeBatch(true));
  }

  /** A coalesced (not durable) write, unless `run.finished` asked for a durable one. */
  private write(): Promise<void> {
    return this.enqueue(() => this.writeBatch(false));
  }

  private async writeBatch(durable: boolean): Promise<void> {
    this.flushQueued = false;
    while (this.tasks.length > 0) await Promise.all(this.tasks.splice(0));
    for (const key of [...this.open.keys()]) this.seal(key);
    const isDurable = durable || this.durableNext;
    try {
      // What went to the spill file comes first, in order.
      if (this.spill && this.spill.batches > 0) {
        for (const batch of await this.spill.read()) {
          await this.store.write(batch, { durable: false });
          const { lines, bytes } = this.account(batch);
          this.spilledLines -= lines;
          this.spilledBytes -= bytes;
        }
        await this.spill.remove();
      }
      const ops = this.ops;
      if (ops.length > 0) {
        this.ops = [];
        try {
          await this.store.write(ops, { durable: isDurable });
        } catch (error) {
          this.ops = [...ops, ...this.ops];
          throw error;
        }
        this.account(ops);
      }
      if (isDurable) this.durableNext = false;
    } catch (error) {
      const e = coerceError(error);
      this.fail(e);
      throw e;
    }
    if (this.failing) {
      this.failing = undefined;
      this.retryDelay = 0;
      this.reported.clear();
      this.options.onRecovered?.();
      // Events that came while failing wait for no timer: write them now.
      if (this.ops.length > 0 || this.open.size > 0) this.schedule(false);
    }
  }

  private account(ops: readonly StoreOp[]): { lines: number; bytes: number } {
    const counted = sizeOf(ops);
    this.committedLines += counted.lines;
    this.pendingLines -= counted.lines;
    this.pendingBytes -= counted.bytes;
    this.updateFlow();
    return counted;
  }

  /** More log text waits in memory than `maxPendingLines` / `maxPendingBytes` allow. */
  private overBound(): boolean {
    return (
      this.pendingLines - this.spilledLines >= (this.options.maxPendingLines ?? 100_000) ||
      this.pendingBytes - this.spilledBytes >= (this.options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES)
    );
  }

  /** Hold the producers while a working store is behind by more than the bounds. */
  private updateFlow(): void {
    const flow = this.options.flow;
    if (!flow) return;
    if (this.overBound() && !this.failing && !this.closed) flow.hold(this);
    else flow.release(this);
  }

  private fail(error: Error): void {
    this.failing = error;
    this.updateFlow();
    this.report(error);
    if (this.closed || this.retryTimer) return;
    const first = this.options.retryMs ?? 250;
    this.retryDelay = this.retryDelay === 0 ? first : Math.min(this.retryDelay * 2, Math.max(first, 5000));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.write().catch(() => undefined);
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  /** Move everything queued (sealing open chunks) to the spill file, as one batch. */
  private async spillNow(): Promise<void> {
    this.spilling = false;
    if (!this.spill) return;
    for (const key of [...this.open.keys()]) this.seal(key);
    const ops = this.ops;
    if (ops.length === 0) return;
    this.ops = [];
    try {
      await this.spill.append([ops]);
    } catch (error) {
      this.ops = [...ops, ...this.ops];
      throw error;
    }
    const { lines, bytes } = sizeOf(ops);
    this.spilledLines += lines;
    this.spilledBytes += bytes;
  }

  async close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    this.options.flow?.release(this);
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.timer = this.retryTimer = undefined;
    const giveUp = Date.now() + (this.options.giveUpMs ?? 60_000);
    let delay = this.options.retryMs ?? 250;
    let last: Error | undefined;
    for (;;) {
      try {
        await this.flush();
        return;
      } catch (error) {
        last = coerceError(error);
      }
      if (Date.now() + delay > giveUp) break;
      await sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
    throw await this.giveUp(last);
  }

  /** The store stayed down: keep what it did not take in the spill file and say what that is. */
  private async giveUp(cause: Error): Promise<StoreUnrecordedError> {
    for (const key of [...this.open.keys()]) this.seal(key);
    const held = [...((await this.spill?.read().catch(() => [])) ?? []).flat(), ...this.ops];
    let lines = 0;
    let jobs = 0;
    let finish: string | undefined;
    for (const op of held) {
      if (op.op === "logs") lines += sizeOf([op]).lines;
      else if (op.op === "job" || op.op === "step") jobs += 1;
      else if (op.op === "run.finish") finish = op.status;
    }
    const what = [
      ...(finish ? [`the run's end (${finish})`] : []),
      ...(lines > 0 ? [`${lines} log line${lines === 1 ? "" : "s"}`] : []),
      ...(jobs > 0 ? [`${jobs} job/step change${jobs === 1 ? "" : "s"}`] : []),
    ];
    const summary = what.length > 0 ? what.join(", ") : `${held.length} change${held.length === 1 ? "" : "s"}`;
    let where = "they are lost (no local copy was configured)";
    let file: string | undefined;
    if (this.spill) {
      try {
        await this.spill.append(this.ops.length > 0 ? [this.ops] : []);
        this.ops = [];
        file = this.spill.path;
        where = `a copy is in ${file}; the next gantry command on this repository writes it to the store once it is reachable`;
      } catch (error) {
        where = `and the local copy could not be written either (${coerceError(error).message})`;
      }
    }
    return new StoreUnrecordedError(
      `the run's record in ${this.store.location} is incomplete: ${summary} could not be recorded (${cause.message}); ${where}`,
      file,
      { cause },
    );
  }
}

/** Default of `maxPendingBytes`: 8 Mi characters of log text. */
const DEFAULT_MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Log text that makes the next batch start at once (besides `batchLines`). */
const BATCH_BYTES = 2 * 1024 * 1024;

/** Characters of `lines`, plus one per line (its line break). */
function textBytes(lines: readonly string[]): number {
  let n = lines.length;
  for (const line of lines) n += line.length;
  return n;
}

/** Log lines and their characters in `ops` (chunks in either form: a spill file may hold older ones). */
function sizeOf(ops: readonly StoreOp[]): { lines: number; bytes: number } {
  let lines = 0;
  let bytes = 0;
  for (const op of ops) {
    if (op.op !== "logs") continue;
    const c = op.chunk;
    if (c.segments) {
      for (const seg of c.segments) {
        lines += seg.lines.length;
        bytes += textBytes(seg.lines);
      }
    } else {
      lines += c.lines.length;
      for (const l of c.lines) bytes += l.line.length + 1;
    }
  }
  return { lines, bytes };
}

function chunkKey(runId: string, jobId: string): string {
  return `${runId}\u0000${jobId}`;
}

export function createStoreWriter(store: Store, options: StoreWriterOptions = {}): StoreWriter {
  return new Writer(store, options);
}
