/**
 * Back-pressure from the engine (`ExecIO` handlers that return a promise):
 * stop reading a process's output stream until the engine caught up, so the
 * process blocks on a full pipe instead of its output piling up in memory.
 */
import type { Readable } from "node:stream";

const pauses = new WeakMap<Readable, number>();

/** Pause `stream` until `wait` settles (nothing when it is not a promise); overlapping waits stack. */
export function pauseFor(stream: Readable, wait: unknown): void {
  if (!(wait instanceof Promise)) return;
  const n = pauses.get(stream) ?? 0;
  pauses.set(stream, n + 1);
  if (n === 0) stream.pause();
  const done = (): void => {
    const left = (pauses.get(stream) ?? 1) - 1;
    pauses.set(stream, left);
    if (left === 0 && !stream.destroyed) stream.resume();
  };
  (wait as Promise<unknown>).then(done, done);
}
