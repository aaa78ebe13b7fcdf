/**
 * Terminal output for commands: two line writers and colours that are on
 * only for a TTY and never when `NO_COLOR` is set.
 */
import pc from "picocolors";

export type Colors = ReturnType<typeof pc.createColors>;

export interface CliIo {
  /** Write a line (or several) to standard output. */
  out(text: string): void;
  /** Write a line (or several) to standard error. */
  err(text: string): void;
  /** Colours for standard output. */
  readonly color: Colors;
  /** Colours for standard error. */
  readonly errColor: Colors;
  /**
   * Wait until standard output can take more (its buffer drained below the
   * high-water mark). Resolves `false` once nobody reads it any more (`EPIPE`,
   * e.g. `| head`): a command printing a lot stops there. Absent: no waiting.
   */
  readonly flushOut?: () => Promise<boolean>;
}

/** Whether an error is the reader of a pipe going away. */
function isBrokenPipe(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED";
}

let pipeGuards = false;
let stdoutGone = false;

/**
 * A reader that goes away (`gantry logs | head`) is not an error: stop
 * writing quietly. Other stream errors stay fatal, as before.
 */
function guardPipes(): void {
  if (pipeGuards) return;
  pipeGuards = true;
  process.stdout.on("error", (error) => {
    if (!isBrokenPipe(error)) throw error;
    stdoutGone = true;
  });
  process.stderr.on("error", (error) => {
    if (!isBrokenPipe(error)) throw error;
  });
}

/** Resolves when `stream` has handed everything written so far to the OS (or can no longer). */
export function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable || stream.writableLength === 0) return resolve();
    stream.write("", () => resolve());
  });
}

/** Whether colours may be used on a stream: a TTY, and `NO_COLOR` unset or empty. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return stream.isTTY === true;
}

export function processIo(): CliIo {
  guardPipes();
  const write = (stream: NodeJS.WriteStream, text: string): void => {
    if (stream.destroyed || (stream === process.stdout && stdoutGone)) return;
    stream.write(text.endsWith("\n") ? text : `${text}\n`);
  };
  return {
    out: (text) => write(process.stdout, text),
    err: (text) => write(process.stderr, text),
    color: pc.createColors(colorEnabled(process.stdout)),
    errColor: pc.createColors(colorEnabled(process.stderr)),
    flushOut: () =>
      new Promise<boolean>((resolve) => {
        const out = process.stdout;
        if (stdoutGone || out.destroyed) return resolve(false);
        if (!out.writableNeedDrain) return resolve(true);
        const done = (): void => {
          out.off("drain", done);
          out.off("close", done);
          resolve(!stdoutGone && !out.destroyed);
        };
        out.on("drain", done);
        out.on("close", done);
      }),
  };
}
