/**
 * The one event map. Everything that happens during a run is one of these,
 * emitted on one stream; the terminal reporters, the run log files, the store
 * writer, the live UI, metrics and notifications are subscribers.
 *
 * Every event carries `runId` and `ts` (epoch milliseconds). Events of one
 * job are emitted in order; events of different jobs interleave. A listener
 * that throws is reported once on stderr and never fails the run.
 */
import type { JobStatus, RunStatus, StepStatus } from "./context.js";
import type { Plan } from "./plan-types.js";

interface Base {
  readonly runId: string;
  readonly ts: number;
}

export type LogStream = "stdout" | "stderr" | "system";

export interface GantryEvents {
  "run.started": Base & {
    readonly plan: Plan;
    /** The jobs this run will run (or skip). */
    readonly jobIds: readonly string[];
    /** Jobs final before the run starts, taken from an earlier run (`rerun --failed`, `--watch`); a `job.finished` follows for each. */
    readonly reused?: readonly string[];
  };
  "run.finished": Base & { readonly status: RunStatus; readonly durationMs: number };
  "executor.setup": Base & { readonly executor: string; readonly durationMs: number; readonly error?: string };
  "executor.cleanup": Base & { readonly executor: string; readonly durationMs: number; readonly error?: string };
  "job.started": Base & { readonly jobId: string; readonly attempt: number; readonly executor: string };
  /** Where an attempt runs (`Executor.jobLocation`), after its `setupJob`; only when the executor knows. */
  "job.location": Base & { readonly jobId: string; readonly attempt: number; readonly location: string };
  "job.retry": Base & { readonly jobId: string; readonly attempt: number; readonly delayMs: number; readonly reason: string };
  "job.finished": Base & {
    readonly jobId: string;
    readonly status: JobStatus;
    readonly attempts: number;
    readonly durationMs: number;
    readonly outputs: Readonly<Record<string, string>>;
    /** Why it ended so: the failing step, the skipped condition, the infrastructure error. */
    readonly reason?: string;
    /** For `cache: true` jobs: the key parts besides the job hash (recorded so a later run can find this result). */
    readonly cacheKey?: { readonly inputsHash: string; readonly envHash: string };
    /** When the job's output went past its log limit: the limit (bytes) ... */
    readonly logLimit?: number;
    /** ... and how many bytes of output past it were counted but not kept. */
    readonly logTruncatedBytes?: number;
  };
  "step.started": Base & { readonly jobId: string; readonly stepIndex: number; readonly name: string; readonly attempt: number };
  "step.retry": Base & {
    readonly jobId: string;
    readonly stepIndex: number;
    /** The attempt that is about to start. */
    readonly attempt: number;
    readonly delayMs: number;
    readonly reason: string;
  };
  "step.finished": Base & {
    readonly jobId: string;
    readonly stepIndex: number;
    readonly name: string;
    readonly status: StepStatus;
    readonly attempts: number;
    readonly exitCode: number | null;
    readonly durationMs: number;
    readonly reason?: string;
  };
  /**
   * A batch of output lines of one job (and step), one stream, one timestamp:
   * already redacted and made safe for a terminal, without line terminators.
   * `stepIndex` is absent for job-level lines. Never empty.
   */
  log: Base & { readonly jobId: string; readonly stepIndex?: number; readonly stream: LogStream; readonly lines: readonly string[] };
  "artifact.saved": Base & { readonly jobId: string; readonly name: string; readonly hash: string; readonly size: number };
  "artifact.restored": Base & { readonly jobId: string; readonly name: string; readonly path: string; readonly hash: string };
  /** A keyed cache restored before the job's steps: `matched` is the entry's key (`exact` when it is `key`). */
  "cache.restored": Base & { readonly jobId: string; readonly key: string; readonly matched: string; readonly exact: boolean };
  /** A keyed cache saved after a green job: one tar blob per path (`<runDir>/artifacts/<hash>.tar`). */
  "cache.saved": Base & {
    readonly jobId: string;
    readonly key: string;
    readonly paths: Readonly<Record<string, { readonly hash: string; readonly size: number }>>;
  };
}

/**
 * The text of a `log` event's lines joined with `\n`. The producer that split
 * a block into lines records the block (`rememberLinesText`), so the sinks
 * that want the block whole (the plain format, the store's chunk rows) do not
 * join the lines again; for other arrays it joins them.
 */
export function linesText(lines: readonly string[]): string {
  if (lines.length === 1) return lines[0]!;
  return blockTexts.get(lines) ?? lines.join("\n");
}

/** Record that `lines` is `text` split at `\n` (exactly: `text.split("\n")` equals `lines`). */
export function rememberLinesText(lines: readonly string[], text: string): void {
  if (lines.length > 1) blockTexts.set(lines, text);
}

const blockTexts = new WeakMap<readonly string[], string>();

export type EventName = keyof GantryEvents;
export type GantryEvent = { [K in EventName]: { readonly type: K } & GantryEvents[K] }[EventName];
export type Listener = (event: GantryEvent) => void;

/**
 * Back-pressure from slow subscribers to the producers of `log` events. A
 * subscriber whose buffer is over its bound calls `hold(itself)`, and
 * `release(itself)` once it drained. A producer that can pause (a process's
 * output) asks `wait()` after emitting: `undefined` means go on; a promise
 * means stop reading until it resolves. Nothing here buffers.
 */
export class FlowGate {
  readonly #holders = new Set<unknown>();
  #waiters: Array<() => void> = [];

  hold(holder: unknown): void {
    this.#holders.add(holder);
  }

  release(holder: unknown): void {
    if (!this.#holders.delete(holder) || this.#holders.size > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Whether a subscriber is holding the producers back. */
  get held(): boolean {
    return this.#holders.size > 0;
  }

  /** `undefined` when nothing holds; else a promise that resolves when every holder released. */
  wait(): Promise<void> | undefined {
    if (this.#holders.size === 0) return undefined;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/**
 * A synchronous event bus with a guarded emit: a throwing listener is
 * reported (once per listener) and detached from nothing else.
 */
export class EventBus {
  private readonly listeners: Listener[] = [];
  private readonly failed = new Set<Listener>();
  /** Back-pressure of this bus's subscribers on the producers of `log` events. */
  readonly flow = new FlowGate();

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  subscribe(listener: Listener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  emit<K extends EventName>(type: K, payload: Omit<GantryEvents[K], "ts"> & { ts?: number }): void {
    const event = { ts: Date.now(), ...payload, type } as unknown as GantryEvent;
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        if (!this.failed.has(listener)) {
          this.failed.add(listener);
          this.onListenerError(error);
        }
      }
    }
  }
}
