/** A `CliIo` that collects what a command prints, without colours. */
import pc from "picocolors";
import type { CliIo } from "../../src/cli/io.js";

export function captureIo(): CliIo & { stdout: () => string; stderr: () => string } {
  let out = "";
  let err = "";
  return {
    out: (t) => void (out += t.endsWith("\n") ? t : `${t}\n`),
    err: (t) => void (err += t.endsWith("\n") ? t : `${t}\n`),
    color: pc.createColors(false),
    errColor: pc.createColors(false),
    stdout: () => out,
    stderr: () => err,
  };
}
