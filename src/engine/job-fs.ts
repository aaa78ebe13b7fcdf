/**
 * `ctx.fs`: file access jailed to the job directory. No absolute paths, no
 * `..` (checkRelativePath), and no symlink escapes: the real path of the
 * target (or of its deepest existing ancestor) must stay inside the real job
 * directory. When the job directory is on this machine (`localJobDir`) the
 * calls use node:fs; otherwise they run small shell commands in the executor
 * that do the same check there.
 */
import { lstat, mkdir, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join, sep } from "node:path";
import type { JailedFs, ShResult } from "../core/context.js";
import { GantryError } from "../core/errors.js";
import { checkRelativePath } from "../core/paths.js";

function escape(message: string): GantryError {
  return new GantryError("PATH_ESCAPE", `ctx.fs: ${message}`);
}

function checked(path: string): string {
  const result = checkRelativePath(path);
  if (!result.ok) throw escape(result.error);
  return result.path;
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null ? ((error as { code?: string }).code ?? undefined) : undefined;
}

export function localJailedFs(root: string): JailedFs {
  let realRoot: Promise<string> | undefined;

  /** Absolute path of `path` after checking that it, and every symlink on the way, stays inside the root. */
  async function inside(path: string): Promise<string> {
    const relative = checked(path);
    const rootReal = await (realRoot ??= realpath(root));
    const absolute = relative === "." ? rootReal : join(rootReal, relative);
    let probe = absolute;
    for (;;) {
      try {
        const real = await realpath(probe);
        if (real !== rootReal && !real.startsWith(rootReal + sep))
          throw escape(`path ${JSON.stringify(path)} leads outside the job directory`);
        return absolute;
      } catch (error) {
        if (errnoCode(error) !== "ENOENT") throw error;
        const link = await lstat(probe).catch(() => undefined);
        if (link?.isSymbolicLink()) throw escape(`path ${JSON.stringify(path)} goes through a dangling symlink`);
        probe = dirname(probe);
      }
    }
  }

  return {
    async readFile(path) {
      return readFile(await inside(path), "utf8");
    },
    async writeFile(path, data) {
      const target = await inside(path);
      await mkdir(dirname(target), { recursive: true });
      await inside(path); // the parent may be a symlink created meanwhile
      await writeFile(target, data);
    },
    async exists(path) {
      const target = await inside(path);
      return (await lstat(target).catch(() => undefined)) !== undefined;
    },
    async mkdir(path) {
      await mkdir(await inside(path), { recursive: true });
    },
    async readdir(path) {
      return (await readdir(await inside(path))).sort();
    },
    async rm(path) {
      const relative = checked(path);
      if (relative === ".") throw escape("refusing to remove the job directory itself");
      // Check the parent only: removing a symlink removes the link, never its target.
      const parent = await inside(dirname(relative));
      await rm(join(parent, basename(relative)), { recursive: true, force: true });
    },
  };
}

/** Runs argv in the job's executor (cwd = job directory) and returns its output without throwing. */
export type RemoteRun = (argv: readonly string[], stdin?: string | Uint8Array) => Promise<ShResult>;

const ESCAPED = 86;
const GUARD =
  'root=$(pwd -P); r=$(realpath -m -- "$1" 2>/dev/null || readlink -f -- "$1"); ' +
  `case "$r/" in "$root"/*) ;; *) echo "path leads outside the job directory" >&2; exit ${ESCAPED};; esac; `;

export function remoteJailedFs(run: RemoteRun): JailedFs {
  async function call(op: string, script: string, path: string, stdin?: string | Uint8Array): Promise<ShResult> {
    const relative = checked(path);
    const result = await run(["sh", "-c", GUARD + script, "gantry-fs", relative], stdin);
    if (result.exitCode === ESCAPED) throw escape(`path ${JSON.stringify(path)} leads outside the job directory`);
    return result;
  }
  async function must(op: string, script: string, path: string, stdin?: string | Uint8Array): Promise<ShResult> {
    const result = await call(op, script, path, stdin);
    if (result.exitCode !== 0) {
      throw new GantryError(
        "EXECUTOR_FAILED",
        `ctx.fs.${op}(${JSON.stringify(path)}) failed: ${result.stderr.trim() || `exit code ${result.exitCode}`}`,
      );
    }
    return result;
  }
  return {
    async readFile(path) {
      return (await must("readFile", 'cat -- "$1"', path)).stdout;
    },
    async writeFile(path, data) {
      await must("writeFile", 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"', path, data);
    },
    async exists(path) {
      return (await call("exists", 'test -e "$1" || test -L "$1"', path)).exitCode === 0;
    },
    async mkdir(path) {
      await must("mkdir", 'mkdir -p -- "$1"', path);
    },
    async readdir(path) {
      const out = (await must("readdir", 'ls -A1 -- "$1"', path)).stdout;
      return out
        .split("\n")
        .filter((line) => line.length > 0)
        .sort();
    },
    async rm(path) {
      if (checked(path) === ".") throw escape("refusing to remove the job directory itself");
      await must("rm", 'rm -rf -- "$1"', path);
    },
  };
}
