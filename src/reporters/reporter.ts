/**
 * A reporter is a subscriber of the event map (`GantryEvent`, src/core/events.ts)
 * that renders a run somewhere: a terminal, a CI log, a JSON stream, files.
 *
 * Contract:
 * - `onEvent` is called synchronously by the event bus, once per event, in
 *   emission order. It must be cheap and must not throw (the bus guards it
 *   anyway); it never blocks on I/O: output is buffered and written
 *   asynchronously.
 * - `close` is called once, after the last event (normally after
 *   `run.finished`). It flushes everything buffered, stops timers, and
 *   resolves when the output has been handed to the stream or the OS.
 *   Events received after `close` are ignored.
 * - Log lines arrive already redacted; reporters never see secrets.
 */
import type { GantryEvent } from "../core/events.js";

export interface Reporter {
  onEvent(event: GantryEvent): void;
  close(): Promise<void>;
}

/**
 * Where a reporter writes: a Node writable stream (stdout, a file stream), or
 * any object with a `write(string)` method (a test collector). When `write`
 * returns `false` the reporter waits for `"drain"` before writing again.
 */
export type TextOutput = NodeJS.WritableStream | { write(chunk: string): unknown };
