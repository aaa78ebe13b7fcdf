/**
 * Errors of the machine, not of Gantry: a `.gantry/state` that is a file, a
 * directory this user cannot write, a full or read-only disk. They reach the
 * command line as Node system errors (`ENOTDIR`, `EACCES`...) from wherever
 * the file was touched; `describeSystemError` turns one into a sentence that
 * names the path and what to do, so `main` prints that instead of a stack.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { GantryError } from "../core/errors.js";

interface SystemError {
  readonly code: string;
  readonly message: string;
  readonly syscall?: string;
  readonly path?: string;
  readonly dest?: string;
}

export function asSystemError(error: unknown): SystemError | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as Partial<Record<"code" | "message" | "syscall" | "path" | "dest", unknown>>;
  if (typeof e.code !== "string" || !/^E[A-Z0-9]+$/.test(e.code) || typeof e.message !== "string") return undefined;
  return {
    code: e.code,
    message: e.message,
    ...(typeof e.syscall === "string" ? { syscall: e.syscall } : {}),
    ...(typeof e.path === "string" ? { path: e.path } : {}),
    ...(typeof e.dest === "string" ? { dest: e.dest } : {}),
  };
}

/** `path` relative to the current directory when it is inside it, else absolute. */
function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}

const VERBS: Record<string, string> = {
  open: "open",
  mkdir: "create the directory",
  scandir: "read the directory",
  opendir: "read the directory",
  rmdir: "remove the directory",
  unlink: "remove",
  rename: "rename",
  copyfile: "copy",
  access: "access",
  stat: "look at",
  lstat: "look at",
  chmod: "change the mode of",
  symlink: "create the link",
  write: "write",
  read: "read",
};

/** The first existing ancestor of `path` (or `path` itself) that is not a directory. */
function fileInTheWay(path: string): string | undefined {
  const chain: string[] = [];
  for (let p = resolve(path); ; p = dirname(p)) {
    chain.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of chain) {
    if (!existsSync(p)) return undefined;
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function nearestExisting(path: string): string | undefined {
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    if (existsSync(p)) return p;
    if (dirname(p) === p) return undefined;
  }
}

function purposeOf(path: string): string {
  if (/(^|[\\/])\.gantry[\\/]state$/.test(path)) return " (its runs, bundles and state database live in .gantry/state)";
  if (/(^|[\\/])\.gantry$/.test(path)) return " (workflows live in .gantry/*.ts, its state in .gantry/state)";
  return "";
}

/**
 * One or two sentences for a system error that names a path, or `undefined`
 * when `error` is not one (then it is a bug, and `main` prints the stack).
 */
export function describeSystemError(error: unknown, cwd: string = process.cwd()): string | undefined {
  const e = asSystemError(error);
  if (!e?.path) return undefined;
  const path = shown(e.path, cwd);
  const verb = VERBS[e.syscall ?? ""] ?? e.syscall ?? "use";
  const user = process.getuid ? ` (uid ${process.getuid()})` : "";
  switch (e.code) {
    case "ENOTDIR":
    case "EEXIST": {
      const file = fileInTheWay(e.path);
      if (file) return `${shown(file, cwd)} is a file, but gantry needs a directory there${purposeOf(file)}; move or remove that file.`;
      if (e.code === "EEXIST") return `cannot ${verb} ${path}: it exists already.`;
      return `cannot ${verb} ${path}: a part of that path is not a directory.`;
    }
    case "EISDIR":
      return `${path} is a directory, but gantry needs a file there; move or remove that directory.`;
    case "EACCES":
    case "EPERM": {
      // Creating something needs write access to the directory it goes in: name that one.
      const parent = existsSync(e.path) ? undefined : nearestExisting(e.path);
      if (parent)
        return `permission denied: cannot ${verb} ${path}: this user${user} may not write in ${shown(parent, cwd)}; give it write access, or run gantry as the directory's owner.`;
      return `permission denied: cannot ${verb} ${path}; give this user${user} access to it, or run gantry as a user who has it.`;
    }
    case "EROFS":
      return `cannot ${verb} ${path}: the file system is read-only; run gantry in a writable directory.`;
    case "ENOSPC":
    case "EDQUOT":
      return `cannot ${verb} ${path}: no space left on the device; free some (\`gantry gc\` removes old runs).`;
    case "ENOENT":
      return `cannot ${verb} ${path}: it does not exist (was it removed while gantry ran?).`;
    case "EMFILE":
    case "ENFILE":
      return `cannot ${verb} ${path}: too many open files; raise the limit (ulimit -n).`;
    case "ELOOP":
      return `cannot ${verb} ${path}: too many levels of symbolic links.`;
    case "ENAMETOOLONG":
      return `cannot ${verb} ${path}: the path is too long.`;
    default:
      return `cannot ${verb} ${path}: ${e.message}`;
  }
}

/**
 * A GantryError whose message carries a system error's text (`... failed:
 * EEXIST: file already exists, mkdir '...'`) with that text replaced by
 * `describeSystemError`'s sentence; other errors unchanged.
 */
export function describeCause(error: GantryError, cwd: string = process.cwd()): string {
  const cause = asSystemError(error.cause);
  const described = cause && describeSystemError(error.cause, cwd);
  if (!cause || !described || !error.message.includes(cause.message)) return error.message;
  return error.message.replace(cause.message, described.replace(/\.$/, ""));
}

/** `--dir`: an existing directory, or a usage error naming it. */
export function checkRepoDir(dir: string, given: string): string {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (error) {
    const code = asSystemError(error)?.code;
    if (code !== "ENOENT" && code !== "ENOTDIR") throw error;
  }
  if (!isDir) {
    const what = existsSync(dir) ? "is not a directory" : "does not exist";
    throw new GantryError("USAGE", `--dir ${given}: ${dir} ${what}; pass the repository's directory.`);
  }
  return dir;
}
