/**
 * A string buffer in front of a stream: the hot path (one call per log line)
 * only appends to a string; the buffer goes to the stream in one `write` when
 * it reaches `highWaterMark` characters or on the next `setImmediate`,
 * whichever comes first. When the stream signals backpressure (`write`
 * returns `false`) nothing more is written until `"drain"`; lines keep
 * accumulating in memory meanwhile (the event bus is synchronous and cannot
 * be slowed down from here).
 */
import type { TextOutput } from "./reporter.js";

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

interface StreamLike {
  write(chunk: string, callback: (error?: Error | null) => void): boolean;
  once(event: "drain", listener: () => void): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
}

function isStream(out: TextOutput): out is TextOutput & StreamLike {
  const o = out as Partial<Record<"once" | "on", unknown>>;
  return typeof o.once === "function" && typeof o.on === "function";
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
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly out: TextOutput,
    private readonly highWaterMark = DEFAULT_HIGH_WATER_MARK,
  ) {
    this.stream = isStream(out) ? out : undefined;
  }

  /** The first error the stream reported, if any. */
  get error(): Error | undefined {
    return this.firstError;
  }

  write(text: string): void {
    this.buffer += text;
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
      ok = this.stream.write(chunk, (error) => {
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
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
