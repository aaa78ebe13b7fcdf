/**
 * A string buffer in front of a stream: the hot path (one call per log line)
 * only appends to a string; the buffer goes to the stream in one `write` when
 * it reaches `highWaterMark` characters or on the next `setImmediate`,
 * whichever comes first. When the stream signals backpressure (`write`
 * returns `false`) nothing more is written until `"drain"`. The event bus is
 * synchronous and cannot be slowed down from here, so text accumulates
 * meanwhile; with a `flow` gate (the bus's), the writer holds the producers
 * of log output once `holdAt` characters wait, and releases them when the
 * stream took them: memory stays bounded by about `holdAt` plus what one
 * read of a process's output gives.
 */
import type { FlowGate } from "../core/events.js";
import type { TextOutput } from "./reporter.js";

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
/** Characters waiting for a slow stream before the writer holds the producers. */
export const DEFAULT_HOLD_AT = 1024 * 1024;

export interface BufferedWriterOptions {
  /** Buffer size (characters) that triggers a write before the next tick. Default 64 KiB. */
  readonly highWaterMark?: number;
  /** Back-pressure to the producers of log events (the bus's `flow`). */
  readonly flow?: FlowGate;
  /** Characters waiting that make the writer hold `flow` (default 1 Mi). */
  readonly holdAt?: number;
}

interface StreamLike {
  write(chunk: string | Buffer, callback: (error?: Error | null) => void): boolean;
  once(event: "drain", listener: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
}

function isStream(out: TextOutput): out is TextOutput & StreamLike {
  const o = out as Partial<Record<"once" | "on", unknown>>;
  return typeof o.once === "function" && typeof o.on === "function";
}

/**
 * `text` as UTF-8 bytes, encoded here rather than by the stream. Most output
 * is ASCII, for which the Latin-1 encoding (a copy) gives the same bytes;
 * text is ASCII exactly when its UTF-8 length is its length in code units.
 */
export function utf8(text: string): Buffer {
  return Buffer.byteLength(text, "utf8") === text.length ? Buffer.from(text, "latin1") : Buffer.from(text, "utf8");
}

export class BufferedWriter {
  private buffer = "";
  private scheduled = false;
  private waitingForDrain = false;
  /** Writes handed to a stream whose callback has not run yet. */
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private firstError: Error | undefined;
  private readonly stream: (TextOutput & StreamLike) | undefined;
  private readonly highWaterMark: number;
  private readonly flow: FlowGate | undefined;
  private readonly holdAt: number;
  private holding = false;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly out: TextOutput,
    options: number | BufferedWriterOptions = {},
  ) {
    const o = typeof options === "number" ? { highWaterMark: options } : options;
    this.highWaterMark = o.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.flow = o.flow;
    this.holdAt = Math.max(this.highWaterMark, o.holdAt ?? DEFAULT_HOLD_AT);
    this.stream = isStream(out) ? out : undefined;
  }

  /** The first error the stream reported, if any. */
  get error(): Error | undefined {
    return this.firstError;
  }

  write(text: string): void {
    this.buffer += text;
    if (this.flow && !this.holding && this.buffer.length >= this.holdAt) {
      this.holding = true;
      this.flow.hold(this);
    }
    if (this.buffer.length >= this.highWaterMark) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  /** Hand the buffer to the stream now, unless it is waiting for `"drain"`. */
  flush(): void {
    if (this.waitingForDrain || this.buffer === "") {
      this.settle();
      return;
    }
    const chunk = this.buffer;
    this.buffer = "";
    if (!this.stream) {
      try {
        this.out.write(chunk);
      } catch (error) {
        this.firstError ??= error instanceof Error ? error : new Error(String(error));
      }
      this.settle();
      return;
    }
    this.inFlight++;
    let ok = true;
    try {
      ok = this.stream.write(utf8(chunk), (error) => {
        if (error) this.firstError ??= error;
        this.inFlight--;
        this.settle();
      });
    } catch (error) {
      // A destroyed stream may throw synchronously; keep going without it.
      this.inFlight--;
      this.firstError ??= error instanceof Error ? error : new Error(String(error));
      this.settle();
      return;
    }
    if (!ok && !this.firstError) {
      this.waitingForDrain = true;
      this.stream.once("drain", () => {
        this.waitingForDrain = false;
        this.flush();
      });
    }
  }

  /** Flush everything; resolves when every chunk has been accepted by the stream (or it failed). */
  drain(): Promise<void> {
    this.flush();
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.firstError !== undefined || (this.buffer === "" && this.inFlight === 0 && !this.waitingForDrain);
  }

  private settle(): void {
    if (this.holding && (this.firstError !== undefined || this.buffer.length < this.holdAt)) {
      this.holding = false;
      this.flow?.release(this);
    }
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
