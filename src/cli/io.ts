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
}

/** Whether colours may be used on a stream: a TTY, and `NO_COLOR` unset or empty. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return stream.isTTY === true;
}

export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith("\n") ? text : `${text}\n`),
    color: pc.createColors(colorEnabled(process.stdout)),
    errColor: pc.createColors(colorEnabled(process.stderr)),
  };
}
