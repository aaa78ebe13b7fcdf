/**
 * Abort scopes without leaks: a child signal that follows its parents and
 * an optional timeout, and that removes its listeners and clears its timer
 * when disposed. `AbortSignal.any` and `AbortSignal.timeout` would leave
 * listeners and timers behind for every step.
 *
 * Reasons: a timeout aborts with a `DOMException` named "TimeoutError"
 * (executors report `timedOut`), anything else means cancelled.
 */
import { setMaxListeners } from "node:events";
import { timeoutReason } from "../core/abort.js";
import { MAX_TIMER_MS } from "../core/duration.js";

/** An AbortController whose signal may have any number of listeners (one per running job or process). */
export function unboundedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

export { cancelReason, isTimeoutReason } from "../core/abort.js";

export interface LongTimer {
  clear(): void;
}

/**
 * `setTimeout` for any delay: one longer than `MAX_TIMER_MS` (about 24.8
 * days, where Node fires at once with a TimeoutOverflowWarning) runs as a
 * chain of timers. An infinite delay never fires.
 */
export function setLongTimeout(fn: () => void, ms: number): LongTimer {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let remaining = Math.max(0, ms);
  const arm = (): void => {
    const slice = Math.min(remaining, MAX_TIMER_MS);
    remaining -= slice;
    timer = setTimeout(remaining > 0 ? arm : fn, slice);
  };
  if (Number.isFinite(remaining)) arm();
  return { clear: () => clearTimeout(timer) };
}

export class Scope {
  private readonly controller = new AbortController();
  private readonly unlinks: Array<() => void> = [];
  private timer: LongTimer | undefined;
  /** True when this scope's own timeout fired (not a parent's). */
  timedOut = false;

  constructor(parents: readonly AbortSignal[], timeoutMs?: number, what = "step") {
    // Every concurrent job, step and process listens to its parent: not a leak.
    setMaxListeners(0, this.controller.signal);
    for (const parent of parents) {
      if (parent.aborted) {
        this.controller.abort(parent.reason);
        return;
      }
    }
    for (const parent of parents) {
      const onAbort = (): void => this.abort(parent.reason);
      parent.addEventListener("abort", onAbort, { once: true });
      this.unlinks.push(() => parent.removeEventListener("abort", onAbort));
    }
    if (timeoutMs !== undefined && timeoutMs > 0) {
      this.timer = setLongTimeout(() => {
        this.timer = undefined;
        this.timedOut = true;
        this.abort(timeoutReason(what, timeoutMs));
      }, timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(reason);
    this.dispose();
  }

  /** Detach from the parents and clear the timer; the signal keeps its state. */
  dispose(): void {
    this.timer?.clear();
    this.timer = undefined;
    for (const unlink of this.unlinks.splice(0)) unlink();
  }
}

/** A signal that aborts after `ms` and whose timer is cleared by `dispose`, for cleanup calls. */
export function graceSignal(ms: number, what: string): Scope {
  return new Scope([], ms, what);
}

/** The default sleep: resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      timer.clear();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setLongTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Resolve when `signal` aborts (never rejects); `dispose` detaches the listener. */
export function whenAborted(signal: AbortSignal): { promise: Promise<void>; dispose: () => void } {
  if (signal.aborted) return { promise: Promise.resolve(), dispose: () => {} };
  let onAbort = (): void => {};
  const promise = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}
