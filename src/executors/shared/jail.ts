/**
 * Workspace-jailed paths on the local file system: the pure checks of
 * `core/paths.ts` plus the symlink checks that need the disk.
 */
import { realpath } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { checkRelativePath } from "../../core/paths.js";
import { GantryError } from "../../core/errors.js";

/** Normalise a path relative to a jail root, or throw `PATH_ESCAPE` naming `what` (e.g. "working directory"). */
export function jailedRelative(path: string, what: string): string {
  const checked = checkRelativePath(path);
  if (!checked.ok) throw new GantryError("PATH_ESCAPE", `${what}: ${checked.error}`);
  return checked.path;
}

/** Whether `child` (absolute) is `parent` or below it. */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep));
}

/**
 * Resolve `rel` below `root`, following symlinks, and insist the real path
 * is still inside the real root. Returns the real absolute path, or
 * `undefined` when the path does not exist.
 */
export async function resolveInside(root: string, rel: string, what: string): Promise<string | undefined> {
  const normal = jailedRelative(rel, what);
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(join(realRoot, normal));
  } catch (error) {
    // Missing (or a dangling symlink): nothing to read or enter, so nothing can escape.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (!isInside(realRoot, real)) {
    throw new GantryError(
      "PATH_ESCAPE",
      `${what}: ${JSON.stringify(rel)} resolves through a symlink to ${real}, outside the job directory`,
    );
  }
  return real;
}
