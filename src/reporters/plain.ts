/**
 * The CI reporter: one timestamped line per event and per output line,
 * `HH:MM:SS.mmm [job/step] text`, in the local time zone (as GitHub Actions,
 * GitLab and Buildkite show times), ASCII status words and no escape codes
 * of its own; a summary table after `run.finished`.
 *
 * Lines are appended to a string buffer and written in chunks of up to
 * 64 KiB (or on the next `setImmediate`), honouring the stream's
 * backpressure: no write per line, no synchronous I/O.
 */
import type { FlowGate, GantryEvent } from "../core/events.js";
import { BufferedWriter } from "./buffered-writer.js";
import { formatSummaryTable } from "./format.js";
import { PlainFormatter } from "./plain-format.js";
import type { Reporter, TextOutput } from "./reporter.js";
import { RunTracker } from "./summary.js";

export interface PlainReporterOptions {
  /** Plain output never adds colour; accepted for symmetry with the pretty reporter. */
  readonly color?: false;
  /** Buffer size (characters) that triggers a write before the next tick. Default 64 KiB. */
  readonly bufferSize?: number;
  /** Back-pressure on the producers of output when the stream is slow (the bus's `flow`). */
  readonly flow?: FlowGate;
}

export function createPlainReporter(out: TextOutput, options: PlainReporterOptions = {}): Reporter {
  const tracker = new RunTracker();
  const formatter = new PlainFormatter(tracker);
  const writer = new BufferedWriter(out, {
    ...(options.bufferSize !== undefined ? { highWaterMark: options.bufferSize } : {}),
    ...(options.flow ? { flow: options.flow } : {}),
  });
  let summaryWritten = false;
  let closed = false;

  const writeSummary = (now: number): void => {
    summaryWritten = true;
    if (tracker.summary.jobs.size === 0) return;
    writer.write(`\n${formatSummaryTable(tracker.summary, now, { symbols: false }).join("\n")}\n`);
  };

  return {
    onEvent(e: GantryEvent): void {
      if (closed) return;
      tracker.apply(e);
      const text = formatter.format(e);
      if (text !== "") writer.write(text);
      if (e.type === "run.finished") writeSummary(e.ts);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (!summaryWritten && tracker.summary.jobs.size > 0) writeSummary(Date.now());
      await writer.drain();
    },
  };
}
