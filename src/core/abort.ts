/**
 * Abort reasons, shared by the engine (which aborts) and the executors
 * (which report `timedOut` or `cancelled`): how an executor tells a timeout
 * from a cancellation.
 *
 * The engine combines the run's signal with the step's timeout into one
 * `AbortSignal`. When that signal fires, its `reason` decides the result:
 * a reason named `"TimeoutError"` (what `AbortSignal.timeout(ms)` produces,
 * or `new DOMException(msg, "TimeoutError")`, or an Error whose `name` is
 * `"TimeoutError"`) means `timedOut: true`; any other reason (the default
 * `AbortError` of `controller.abort()`, Ctrl-C, SIGTERM) means `cancelled: true`.
 * `AbortSignal.any([run, AbortSignal.timeout(ms)])` keeps the reason of
 * whichever signal fired first, so the engine can simply combine them.
 */
import { formatDuration } from "./duration.js";

/** Whether an abort reason means "the time limit was reached" (rather than "cancelled"). */
export function isTimeoutReason(reason: unknown): boolean {
  return typeof reason === "object" && reason !== null && (reason as { name?: unknown }).name === "TimeoutError";
}

/** A reason for `controller.abort(...)` that executors read as a timeout: "`what` timed out after 1m30s". */
export function timeoutReason(what?: string, timeoutMs?: number): DOMException {
  const after = timeoutMs === undefined ? "" : ` after ${formatDuration(timeoutMs)}`;
  return new DOMException(`${what === undefined ? "" : `${what} `}timed out${after}`, "TimeoutError");
}

/** A reason for `controller.abort(...)` that executors read as a cancellation. */
export function cancelReason(message: string): DOMException {
  return new DOMException(message, "AbortError");
}

/** The `{ timedOut, cancelled }` pair for a signal, false/false when it has not fired. */
export function abortOutcome(signal: AbortSignal): { timedOut: boolean; cancelled: boolean } {
  if (!signal.aborted) return { timedOut: false, cancelled: false };
  const timedOut = isTimeoutReason(signal.reason);
  return { timedOut, cancelled: !timedOut };
}
