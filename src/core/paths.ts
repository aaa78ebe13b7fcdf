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

/** Most symlinks followed while resolving one path (Linux's limit). */
export const MAX_SYMLINK_HOPS = 40;

export type ChainResult =
  { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: "escapes" | "loop"; readonly via?: string };

/**
 * Resolve the symlink at `linkPath` (relative to the root) with target
 * `target` the way the kernel would, component by component: each prefix
 * that is itself a symlink (`readLink(prefix)` returns its target, else
 * `undefined` for a directory or a missing path) is replaced by its target,
 * and `..` applies to what the prefix resolved to, not to its text. So
 * `sub/up -> ..` plus `esc -> sub/up/../outside` is caught, which the
 * lexical `symlinkStaysInside` lets through. Returns the resolved path
 * relative to the root, or why it is refused: it leaves the root at some
 * step (`via`: the symlink it went through, when one), or more than
 * `MAX_SYMLINK_HOPS` symlinks.
 */
export async function resolveSymlinkChain(
  linkPath: string,
  target: string,
  readLink: (rel: string) => string | undefined | Promise<string | undefined>,
): Promise<ChainResult> {
  const parts = (p: string): string[] => p.split("/").filter((c) => c !== "" && c !== ".");
  if (target.startsWith("/")) return { ok: false, reason: "escapes" };
  const stack = parts(posix.dirname(linkPath));
  const pending = parts(target);
  let hops = 0;
  let via: string | undefined;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      if (stack.length === 0) return via === undefined ? { ok: false, reason: "escapes" } : { ok: false, reason: "escapes", via };
      stack.pop();
      continue;
    }
    stack.push(part);
    const prefix = stack.join("/");
    const next = await readLink(prefix);
    if (next === undefined) continue;
    if (++hops > MAX_SYMLINK_HOPS) return { ok: false, reason: "loop", via: prefix };
    if (next.startsWith("/")) return { ok: false, reason: "escapes", via: prefix };
    via = prefix;
    stack.pop();
    pending.unshift(...parts(next));
  }
  return { ok: true, path: stack.length === 0 ? "." : stack.join("/") };
}
