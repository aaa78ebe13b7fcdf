/**
 * Process output to `log` events: every byte goes through the run's
 * redactor (which also catches secrets split across chunks) before it
 * becomes a line on the bus.
 */
import { constants } from "node:os";
import type { LogStream } from "../core/events.js";
import { safeText } from "../core/terminal.js";
import type { ExecRequest, ExecResult, Executor, JobInfo } from "../core/executor.js";
import { createLineRedactor, splitLines } from "./redact.js";
import type { RunContext } from "./run-context.js";

/** Receives blocks of redacted lines of one stream (one `log` event each). */
export type LineSink = (stream: LogStream, lines: readonly string[]) => void;

/** Lines of one job (and one step, when `stepIndex` is given) as `log` events. */
export function lineSink(run: RunContext, jobId: string, stepIndex?: number): LineSink {
  return (stream, lines) => run.emitLog(jobId, stepIndex, stream, lines);
}

/** A message that did not come from a process: redacted as a whole, then split into lines (one event). */
export function logMessage(run: RunContext, sink: LineSink, stream: LogStream, message: string): void {
  sink(stream, splitLines(run.redactor.redact(safeText(message))));
}

export interface Collected {
  readonly stdout: Buffer[];
  readonly stderr: Buffer[];
}

/** `executor.exec` (or an ephemeral container's) with its output redacted into `sink` (and kept raw in `collect`, for `ctx.sh`). */
export async function execLogged(
  run: RunContext,
  executor: Pick<Executor, "exec">,
  info: JobInfo,
  req: ExecRequest,
  sink: LineSink,
  collect?: Collected,
): Promise<ExecResult> {
  const out = createLineRedactor(run.redactor, (lines) => sink("stdout", lines));
  const err = createLineRedactor(run.redactor, (lines) => sink("stderr", lines));
  const budget = run.logBudget(info.job);
  // Keep what the job's log limit allows; then tell the executor whether the sinks keep up.
  const feed = (to: typeof out, chunk: Buffer): Promise<void> | undefined => {
    const keep = budget.take(chunk.length);
    if (keep === chunk.length) to.write(chunk);
    else {
      if (keep > 0) to.write(chunk.subarray(0, keep));
      if (!budget.noted) {
        budget.noted = true;
        sink("system", [budget.cutMessage()]);
      }
    }
    return run.sinksReady();
  };
  try {
    return await executor.exec(
      info,
      // The second Ctrl-C kills at once, also a process already in its grace period.
      req.force ? req : { ...req, force: run.force },
      collect
        ? {
            stdout: (chunk) => {
              collect.stdout.push(chunk);
              return feed(out, chunk);
            },
            stderr: (chunk) => {
              collect.stderr.push(chunk);
              return feed(err, chunk);
            },
          }
        : { stdout: (chunk) => feed(out, chunk), stderr: (chunk) => feed(err, chunk) },
    );
  } finally {
    out.end();
    err.end();
  }
}

/** An exit code for results killed by a signal (128 + n, like a shell). */
export function exitCodeOf(result: ExecResult): number {
  if (result.exitCode !== null) return result.exitCode;
  const n = result.signal ? (constants.signals as Record<string, number | undefined>)[result.signal] : undefined;
  return 128 + (n ?? 0);
}

/** "exit code 3" or "killed by SIGKILL". */
export function describeExit(result: ExecResult): string {
  if (result.exitCode !== null) return `exit code ${result.exitCode}`;
  return result.signal ? `killed by ${result.signal}` : "ended without an exit code";
}

/** The message of an abort reason ("step timed out after 5s", "run cancelled"). */
export function abortMessage(reason: unknown): string {
  if (typeof reason === "object" && reason !== null && typeof (reason as { message?: unknown }).message === "string") {
    return (reason as { message: string }).message;
  }
  return "cancelled";
}
