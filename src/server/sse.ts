/**
 * The run's events as Server-Sent Events: every stored event from after
 * `Last-Event-ID` (per-run sequence numbers, 1, 2, 3 ...) then live ones as
 * they are committed by any server, a comment ping every 15 s, and the end of
 * the stream after `run.finished`. A reconnect with `Last-Event-ID` continues
 * with no gap and no duplicate, because `id:` is the stored sequence.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { RunEvents } from "../queue/api.js";

export interface SseOptions {
  readonly events: RunEvents;
  readonly runId: string;
  /** The last sequence the client has (Last-Event-ID). */
  readonly after: number;
  /** Comment ping interval (default 15 s). */
  readonly pingMs?: number;
}

export function streamRunEvents(c: Context, options: SseOptions): Response {
  const pingMs = options.pingMs ?? 15_000;
  return streamSSE(c, async (stream) => {
    let after = options.after;
    let wake: (() => void) | undefined;
    let pending = false;
    const unsubscribe = options.events.subscribe(options.runId, () => {
      pending = true;
      wake?.();
    });
    stream.onAbort(() => wake?.());
    try {
      while (!stream.aborted) {
        pending = false;
        const batch = await options.events.read(options.runId, after, 500);
        for (const { seq, event } of batch) {
          await stream.writeSSE({ id: String(seq), event: event.type, data: JSON.stringify(event) });
          after = seq;
          if (event.type === "run.finished") return;
        }
        if (batch.length === 500 || pending) continue;
        const timedOut = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), pingMs);
          wake = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        wake = undefined;
        if (timedOut && !stream.aborted) await stream.write(": ping\n\n");
      }
    } finally {
      unsubscribe();
    }
  });
}
