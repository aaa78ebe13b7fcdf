/**
 * `gantry run` (not a dry run). Placeholder until the engine is wired in.
 */
import { GantryError } from "../core/errors.js";
import type { CliIo } from "./io.js";
import type { RunOptions } from "./run-options.js";

export async function runCommand(_options: RunOptions, _io: CliIo): Promise<number> {
  throw new GantryError("INTERNAL", "gantry run is not implemented yet; use `gantry run --dry-run`");
}
