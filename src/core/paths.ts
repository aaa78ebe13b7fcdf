/**
 * Pure checks for workspace-jailed paths (artifacts, `ctx.fs`, tar entries).
 * Symlink escapes need the file system and are checked by the callers.
 */
import { posix } from "node:path";

/**
 * Normalise a path relative to a jail root. Returns the normalised path
 * (`"."` for the root itself) or an `error` saying why it is refused.
 */
export function checkRelativePath(path: string): { ok: true; path: string } | { ok: false; error: string } {
  if (typeof path !== "string" || path.length === 0) return { ok: false, error: "path is empty" };
  if (path.includes("\0")) return { ok: false, error: `path ${JSON.stringify(path)} contains a NUL byte` };
  const slashed = path.replace(/\\/g, "/");
  if (slashed.startsWith("/") || /^[A-Za-z]:\//.test(slashed)) {
    return { ok: false, error: `path ${JSON.stringify(path)} is absolute; use a path relative to the job directory` };
  }
  if (slashed.split("/").includes("..")) {
    return { ok: false, error: `path ${JSON.stringify(path)} contains ".."; paths must stay inside the job directory` };
  }
  const normal = posix.normalize(slashed).replace(/\/+$/, "");
  return { ok: true, path: normal === "" ? "." : normal };
}

/** Whether `target`, a symlink's target seen from `linkPath` (both relative to the root), stays inside the root. */
export function symlinkStaysInside(linkPath: string, target: string): boolean {
  if (target.startsWith("/")) return false;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  return resolved !== ".." && !resolved.startsWith("../");
}
