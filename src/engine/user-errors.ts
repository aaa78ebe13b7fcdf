/**
 * What a user sees when a TypeScript step throws: their own stack frames,
 * never Gantry's (its dist/ or src/) or Node's internals; and `ctx.fs`
 * errors as one sentence naming the call and the path they gave, not the
 * absolute path inside the job directory and an errno.
 */
import { dirname, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { JailedFs } from "../core/context.js";

/** Gantry's compiled (dist/) or source (src/) directory: frames inside it are Gantry's, not the user's. */
const OWN_DIR = dirname(dirname(fileURLToPath(import.meta.url))) + sep;

/** The `at ...` lines of `stack` that point at the user's code. */
export function userFrames(stack: string | undefined): string[] {
  if (!stack) return [];
  return stack
    .split("\n")
    .filter((line) => /^\s+at /.test(line))
    .filter((line) => !line.includes(OWN_DIR) && !line.includes(`file://${OWN_DIR}`) && !/[( ]node:/.test(line))
    .filter((line) => !/^\s+at (async )?(Promise\.all|Promise\.race|new Promise) \(index \d+\)$/.test(line));
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "does not exist in the job directory",
  EISDIR: "is a directory, not a file",
  ENOTDIR: "has a file where a directory is expected on its way",
  EEXIST: "exists already",
  ENOTEMPTY: "is a directory that is not empty",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EROFS: "the file system is read-only",
  EMFILE: "too many open files",
};

function errnoOf(error: unknown): string | undefined {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/**
 * `fs` with its system errors (ENOENT...) rethrown as
 * `ctx.fs.readFile("missing.txt"): does not exist in the job directory`.
 * The new error is made in the awaited call, so its stack still leads to
 * the user's line; other errors (a path escape) pass through unchanged.
 */
export function describedFs(fs: JailedFs): JailedFs {
  const wrap =
    <A extends unknown[], R>(op: keyof JailedFs, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (error) {
        const code = errnoOf(error);
        if (code === undefined) throw error;
        const what = ERRNO_TEXT[code] ?? (error as Error).message;
        throw new Error(`ctx.fs.${op}(${JSON.stringify(args[0])}): ${what} (${code})`, { cause: error });
      }
    };
  return {
    readFile: wrap("readFile", (path: string) => fs.readFile(path)),
    writeFile: wrap("writeFile", (path: string, data: string | Uint8Array) => fs.writeFile(path, data)),
    exists: wrap("exists", (path: string) => fs.exists(path)),
    mkdir: wrap("mkdir", (path: string) => fs.mkdir(path)),
    readdir: wrap("readdir", (path: string) => fs.readdir(path)),
    rm: wrap("rm", (path: string) => fs.rm(path)),
  };
}
