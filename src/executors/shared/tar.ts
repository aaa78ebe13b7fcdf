/**
 * The tar jail: one iterator over the entries of an incoming archive
 * (`writeFiles`, `gantry artifacts --out`) that every executor writes from
 * (the local one to its disk, the container and SSH ones into the archive
 * they upload), so the rules exist once.
 *
 * Entry names are relative to the target path itself, the way
 * `tar -C <path> -cf - .` names them (see `tar-local.ts`); the iterator gives
 * each entry's path relative to the root (the job directory), `base` joined.
 *
 * Refused, with a `GantryError` naming the entry (`PATH_ESCAPE` for escapes,
 * `ARTIFACT_INVALID` for the rest):
 * - names that are absolute or contain `..`;
 * - types other than files, directories, symlinks and hard links;
 * - a file, symlink or link replacing the root itself;
 * - writing below a symlink of the same archive, and a directory entry
 *   where the archive made a symlink (it would be written through);
 * - anything below a file of the archive; a file or link where the archive made a directory;
 * - a symlink whose target leaves the root, lexically (`../x`, `/x`) or by
 *   resolution through the archive's other symlinks (`sub/up -> ..` then
 *   `esc -> sub/up/../outside`): every symlink's chain is resolved against
 *   the whole archive once all entries are known, and the iteration throws
 *   after the last entry (callers write nothing, or roll back, on a throw);
 * - a hard link whose source is not a file the archive made before it.
 *
 * What the archive cannot know (symlinks already in the target directory)
 * each executor checks where the files are.
 */
import type { Readable, Writable } from "node:stream";
import { posix } from "node:path";
import tarStream from "tar-stream";
import type { Extract as TarExtract, Header } from "tar-stream";
import { GantryError, coerceError } from "../../core/errors.js";
import { checkRelativePath, resolveSymlinkChain, symlinkStaysInside } from "../../core/paths.js";

/** Permission bits kept from archives and files: rwx for all plus sticky; setuid/setgid are dropped. */
export const MODE_MASK = 0o1777;

type RawEntry = TarExtract extends AsyncIterable<infer S> ? S : never;

/** An entry's header, checked. */
type CheckedHeader =
  | (Common & { readonly type: "directory" })
  | (Common & { readonly type: "file"; readonly size: number })
  | (Common & { readonly type: "symlink"; readonly target: string })
  | (Common & { readonly type: "link"; /** The source, relative to the root. */ readonly source: string });

/** A checked entry; a file's bytes are its `body`. */
export type CheckedEntry =
  Exclude<CheckedHeader, { type: "file" }> | (Extract<CheckedHeader, { type: "file" }> & { readonly body: AsyncIterable<Buffer> });

interface Common {
  /** The name in the archive, for messages. */
  readonly name: string;
  /** Path relative to the root, normalised; `.` for the root itself. */
  readonly rel: string;
  /** Permission bits (masked); for symlinks 0o777. */
  readonly mode: number;
  readonly mtime?: Date;
}

const escape = (entry: string, message: string): GantryError =>
  new GantryError("PATH_ESCAPE", `tar entry ${JSON.stringify(entry)}${message}`);
const invalid = (entry: string, message: string): GantryError =>
  new GantryError("ARTIFACT_INVALID", `tar entry ${JSON.stringify(entry)}${message}`);

/** What the archive made at each path so far. */
type Made = "directory" | "file" | "symlink";

function check(header: Header, base: string, made: Map<string, Made>, rootName: string): CheckedHeader {
  const name = header.name;
  const checked = checkRelativePath(name);
  if (!checked.ok) throw escape(name, ` refused: ${checked.error}`);
  const rel = posix.join(base, checked.path);
  for (let dir = posix.dirname(rel); dir !== "."; dir = posix.dirname(dir)) {
    const at = made.get(dir);
    if (at === "symlink") throw escape(name, `: ${JSON.stringify(dir)} is a symlink; refusing to write through it`);
    if (at === "file") throw invalid(name, `: ${JSON.stringify(dir)} is a file`);
  }
  const common = { name, rel, ...(header.mtime ? { mtime: header.mtime } : {}) };
  const leaf = (what: string): void => {
    if (rel === ".") throw invalid(name, `: cannot replace ${rootName} with ${what}`);
    if (made.get(rel) === "directory") throw invalid(name, `: a directory already exists at ${JSON.stringify(rel)}`);
  };
  switch (header.type) {
    case "directory":
      if (made.get(rel) === "symlink") throw escape(name, `: ${JSON.stringify(rel)} is a symlink; refusing to write through it`);
      if (made.get(rel) === "file") throw invalid(name, `: ${JSON.stringify(rel)} exists and is not a directory`);
      made.set(rel, "directory");
      return { ...common, type: "directory", mode: (header.mode ?? 0o755) & MODE_MASK };
    case "file":
    case "contiguous-file":
    case null:
    case undefined:
      leaf("a file");
      made.set(rel, "file");
      return { ...common, type: "file", mode: (header.mode ?? 0o644) & MODE_MASK, size: header.size ?? 0 };
    case "symlink": {
      const target = header.linkname ?? "";
      if (target === "" || target.includes("\0")) throw invalid(name, ": symlink without a valid target");
      if (!symlinkStaysInside(rel, target)) throw escape(name, `: symlink to ${JSON.stringify(target)} points outside ${rootName}`);
      leaf("a symlink");
      made.set(rel, "symlink");
      return { ...common, type: "symlink", mode: 0o777, target };
    }
    case "link": {
      const source = checkRelativePath(header.linkname ?? "");
      if (!source.ok) throw escape(name, `: hard link refused: ${source.error}`);
      const sourceRel = posix.join(base, source.path);
      if (made.get(sourceRel) !== "file")
        throw invalid(name, `: hard link target ${JSON.stringify(header.linkname)} is not a file extracted before it`);
      leaf("a link");
      made.set(rel, "file");
      return { ...common, type: "link", mode: (header.mode ?? 0o644) & MODE_MASK, source: sourceRel };
    }
    default:
      throw invalid(name, ` is a ${header.type}; only files, directories and links are allowed`);
  }
}

/** Refuse every symlink of the archive whose chain, resolved through the archive's symlinks, leaves the root. */
async function checkChains(
  links: ReadonlyMap<string, { name: string; target: string }>,
  made: ReadonlyMap<string, Made>,
  rootName: string,
): Promise<void> {
  const readLink = (rel: string): string | undefined => (made.get(rel) === "symlink" ? links.get(rel)?.target : undefined);
  for (const [rel, { name, target }] of links) {
    if (made.get(rel) !== "symlink") continue; // replaced by a later entry
    const result = await resolveSymlinkChain(rel, target, readLink);
    if (result.ok) continue;
    if (result.reason === "loop") throw invalid(name, `: symlink to ${JSON.stringify(target)} goes through too many symlinks`);
    const through = result.via !== undefined ? ` through the symlink ${JSON.stringify(result.via)}` : "";
    throw escape(name, `: symlink to ${JSON.stringify(target)} resolves outside ${rootName}${through}`);
  }
}

export interface CheckedEntriesOptions {
  /** How messages name the root: "the job directory" (default), "the output directory". */
  readonly rootName?: string;
}

/**
 * The checked entries of `tar`, for a target path `base` (relative to the
 * root, already checked). Read a file entry's `body` before asking for the
 * next entry (or leave it: it is drained). The last step, after the last
 * entry, checks every symlink's chain: consume the iterator to the end
 * before treating the archive as valid. Stops and destroys `tar` on any
 * error; a stream that is not a tar is `ARTIFACT_INVALID`.
 */
export async function* checkedEntries(tar: Readable, base: string, options: CheckedEntriesOptions = {}): AsyncGenerator<CheckedEntry> {
  const rootName = options.rootName ?? "the job directory";
  const made = new Map<string, Made>();
  const links = new Map<string, { name: string; target: string }>();
  const extract = tarStream.extract();
  const onSourceError = (error: Error): void => {
    extract.destroy(error);
  };
  tar.on("error", onSourceError);
  tar.pipe(extract as unknown as Writable);
  const iterator = (extract as unknown as AsyncIterable<RawEntry>)[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      let next: IteratorResult<RawEntry>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw error instanceof GantryError
          ? error
          : new GantryError("ARTIFACT_INVALID", `not a valid tar stream: ${coerceError(error).message}`, { cause: error });
      }
      if (next.done) break;
      const raw = next.value;
      const entry = check(raw.header, base, made, rootName);
      if (entry.type === "symlink") links.set(entry.rel, { name: entry.name, target: entry.target });
      yield entry.type === "file" ? { ...entry, body: raw as unknown as AsyncIterable<Buffer> } : entry;
      raw.resume(); // drain what the consumer did not read
    }
    await checkChains(links, made, rootName);
    done = true;
  } finally {
    tar.off("error", onSourceError);
    if (!done) {
      tar.unpipe(extract);
      tar.on("error", () => undefined); // late errors of a source we gave up on
      tar.destroy();
      await iterator.return?.();
    }
  }
}
