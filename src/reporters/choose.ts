/**
 * Pick the terminal reporter for `--log-format`: `pretty` on a TTY and
 * `plain` otherwise when no format is given; an explicit format always wins.
 */
import { GantryError } from "../core/errors.js";
import type { FlowGate } from "../core/events.js";
import { createJsonReporter } from "./json.js";
import { createPlainReporter } from "./plain.js";
import { createPrettyReporter, type PrettyOutput } from "./pretty.js";
import type { Reporter } from "./reporter.js";

export type LogFormat = "pretty" | "plain" | "json";

export const LOG_FORMATS: readonly LogFormat[] = ["pretty", "plain", "json"];

export interface ChooseReporterOptions {
  readonly isTTY: boolean;
  /** Colours in pretty mode (the caller folds in `NO_COLOR` and `--no-color`; the pretty reporter checks `NO_COLOR` too). */
  readonly color: boolean;
  /** Back-pressure on the producers of output when the terminal (or pipe) is slow (the bus's `flow`). */
  readonly flow?: FlowGate;
}

export function chooseReporter(format: LogFormat | undefined, out: PrettyOutput, options: ChooseReporterOptions): Reporter {
  const chosen = format ?? (options.isTTY ? "pretty" : "plain");
  switch (chosen) {
    case "pretty":
      return createPrettyReporter(out, { color: options.color });
    case "plain":
      return createPlainReporter(out, options.flow ? { flow: options.flow } : {});
    case "json":
      return createJsonReporter(out, options.flow ? { flow: options.flow } : {});
    default:
      throw new GantryError("USAGE", `--log-format: unknown format ${JSON.stringify(chosen)} (expected one of ${LOG_FORMATS.join(", ")})`);
  }
}
