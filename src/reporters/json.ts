/**
 * The JSON reporter: one event per line (JSON Lines), the schema documented
 * in docs/events.md. Every line is an object with `type` first, then the
 * event's fields as emitted, except `run.started`, whose full plan is
 * replaced by `workflow` (its name) and `planHash` to keep lines small.
 */
import type { FlowGate, GantryEvent } from "../core/events.js";
import { BufferedWriter } from "./buffered-writer.js";
import type { Reporter, TextOutput } from "./reporter.js";

/** The `run.started` line: the plan reduced to its name and hash. */
export interface RunStartedLine {
  readonly type: "run.started";
  readonly runId: string;
  readonly ts: number;
  readonly workflow: string;
  readonly planHash: string;
  readonly jobIds: readonly string[];
  readonly reused?: readonly string[];
}

/** What one JSON line holds, before `JSON.stringify`. */
export type JsonEventLine = Exclude<GantryEvent, { type: "run.started" }> | RunStartedLine;

export function toJsonLineObject(e: GantryEvent): JsonEventLine {
  if (e.type === "run.started") {
    const line = { type: e.type, runId: e.runId, ts: e.ts, workflow: e.plan.workflow.name, planHash: e.plan.hash, jobIds: e.jobIds };
    return e.reused ? { ...line, reused: e.reused } : line;
  }
  const { type, ...fields } = e;
  return { type, ...fields } as JsonEventLine;
}

/** JSON-encoded ids, cached: a run has one run id and few job ids, repeated on every log line. */
const encodedIds = new Map<string, string>();
function encodeId(id: string): string {
  let encoded = encodedIds.get(id);
  if (encoded === undefined) {
    if (encodedIds.size > 10_000) encodedIds.clear();
    encoded = JSON.stringify(id);
    encodedIds.set(id, encoded);
  }
  return encoded;
}

// Characters JSON.stringify would escape (quote, backslash, controls, surrogates).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
// The same without "\n" (the joint of lines joined for one test).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE_NO_NL = /["\\\u0000-\u0009\u000b-\u001f\ud800-\udfff]/;

/** A JSON string literal; skips JSON.stringify for the common line that needs no escaping. */
function encodeString(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** A JSON array of strings; one escape check for the whole block in the common case. */
function encodeLines(lines: readonly string[]): string {
  if (lines.length === 1) return `[${encodeString(lines[0]!)}]`;
  const joined = lines.join("\n");
  // "\n" itself needs escaping, so test the lines' text without the joints
  if (!NEEDS_ESCAPE_NO_NL.test(joined)) return `["${lines.join('","')}"]`;
  return JSON.stringify(lines);
}

/** One event as one line of JSON, with its trailing `\n`. */
export function toJsonLine(e: GantryEvent): string {
  if (e.type === "log") {
    // The hot path: built by hand (fields in the order docs/events.md lists them).
    const step = e.stepIndex === undefined ? "" : `,"stepIndex":${e.stepIndex}`;
    return `{"type":"log","runId":${encodeId(e.runId)},"ts":${e.ts},"jobId":${encodeId(e.jobId)}${step},"stream":"${e.stream}","lines":${encodeLines(e.lines)}}\n`;
  }
  return `${JSON.stringify(toJsonLineObject(e))}\n`;
}

export interface JsonReporterOptions {
  /** Buffer size (characters) that triggers a write before the next tick. Default 64 KiB. */
  readonly bufferSize?: number;
  /** Back-pressure on the producers of output when the stream is slow (the bus's `flow`). */
  readonly flow?: FlowGate;
}

export function createJsonReporter(out: TextOutput, options: JsonReporterOptions = {}): Reporter {
  const writer = new BufferedWriter(out, {
    ...(options.bufferSize !== undefined ? { highWaterMark: options.bufferSize } : {}),
    ...(options.flow ? { flow: options.flow } : {}),
  });
  let closed = false;
  return {
    onEvent(e: GantryEvent): void {
      if (!closed) writer.write(toJsonLine(e));
    },
    async close(): Promise<void> {
      closed = true;
      await writer.drain();
    },
  };
}
