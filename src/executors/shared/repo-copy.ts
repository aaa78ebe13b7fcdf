/**
 * Listing and copying the repository for job directories (`copyRepo`),
 * shared by every executor: the local one copies the listed files, the
 * container and ssh executors pack them into a tar stream.
 *
 * What is copied: in a git work tree, the files git tracks plus untracked
 * files that are not ignored (`git ls-files -z --cached --others
 * --exclude-standard`); files deleted from the work tree but still in the
 * index are skipped. Outside a git repository: everything except `.git`,
 * `node_modules` (at any depth) and `.gantry/state`. `.gantry/state` (the
 * local store) is never copied.
 *
 * How: the file list is taken once per workspace and copied into a template
 * (a consistent snapshot of the repo at the start of the run); each job then
 * gets a copy of the template. Files are copied with `copyFile` and
 * `COPYFILE_FICLONE` (a reflink where the file system supports it), with
 * bounded parallelism; modes are kept, symlinks stay symlinks.
 */
import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import type { Stats } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readdir, readlink, symlink } from "node:fs/promises";
import { join, posix, sep } from "node:path";
import { promisify } from "node:util";
import { GantryError } from "../../core/errors.js";

const execFileAsync = promisify(execFile);
const PARALLEL = 32;
const STATE_DIR = ".gantry/state";

export interface RepoManifest {
  /** Directories (posix, relative) and their permission bits, parents before children. */
  readonly dirs: ReadonlyArray<{ readonly rel: string; readonly mode: number }>;
  readonly files: readonly string[];
  readonly symlinks: readonly string[];
}

function excluded(rel: string): boolean {
  return rel === STATE_DIR || rel.startsWith(`${STATE_DIR}/`) || rel === ".git" || rel.startsWith(".git/");
}

/** Run `fn` over `items`, at most `limit` at a time; stops early when `signal` fires. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      if (signal?.aborted) throw new GantryError("CANCELLED", "copying the repository was cancelled");
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function gitListing(repoDir: string): Promise<string[] | undefined> {
  try {
    const { stdout } = await execFileAsync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
      cwd: repoDir,
      maxBuffer: 1024 * 1024 * 1024,
      encoding: "utf8",
    });
    return [...new Set(stdout.split("\0").filter((p) => p !== ""))];
  } catch {
    return undefined; // not a git work tree, or no git
  }
}

class ManifestBuilder {
  private readonly dirs = new Set<string>();
  readonly files: string[] = [];
  readonly symlinks: string[] = [];

  addDirChain(rel: string): void {
    let dir = rel;
    while (dir !== "." && !this.dirs.has(dir)) {
      this.dirs.add(dir);
      dir = posix.dirname(dir);
    }
  }

  add(rel: string, stat: Stats): "dir" | "leaf" | "skip" {
    if (stat.isDirectory()) {
      this.addDirChain(rel);
      return "dir";
    }
    if (!stat.isFile() && !stat.isSymbolicLink()) return "skip";
    this.addDirChain(posix.dirname(rel));
    (stat.isFile() ? this.files : this.symlinks).push(rel);
    return "leaf";
  }

  async build(root: string): Promise<RepoManifest> {
    const sorted = [...this.dirs].sort((a, b) => a.split("/").length - b.split("/").length || (a < b ? -1 : 1));
    const dirs: Array<{ rel: string; mode: number }> = [];
    for (const rel of sorted) dirs.push({ rel, mode: (await lstat(join(root, ...rel.split("/")))).mode & 0o7777 });
    return { dirs, files: this.files, symlinks: this.symlinks };
  }
}

async function walk(root: string, rel: string, builder: ManifestBuilder, skip: (rel: string, name: string) => boolean): Promise<void> {
  const names = await readdir(rel === "." ? root : join(root, rel));
  for (const name of names) {
    const childRel = rel === "." ? name : `${rel}/${name}`;
    if (skip(childRel, name)) continue;
    const stat = await lstat(join(root, childRel));
    if (builder.add(childRel, stat) === "dir") await walk(root, childRel, builder, skip);
  }
}

/** The files of `repoDir` to copy into job directories (see the module comment for the rules). */
export async function listRepo(repoDir: string): Promise<RepoManifest> {
  const builder = new ManifestBuilder();
  const listed = await gitListing(repoDir);
  if (listed) {
    for (const rel of listed) {
      if (excluded(rel)) continue;
      let stat: Stats;
      try {
        stat = await lstat(join(repoDir, ...rel.split("/")));
      } catch {
        continue; // deleted from the work tree but still in the index
      }
      // A submodule shows up as one directory entry: take its contents, not its .git.
      if (builder.add(rel, stat) === "dir") await walk(repoDir, rel, builder, (_r, name) => name === ".git");
    }
  } else {
    await walk(repoDir, ".", builder, (r, name) => name === ".git" || name === "node_modules" || excluded(r));
  }
  return builder.build(repoDir);
}

/** Copy the manifest's entries from `from` to `to` (which is created). */
export async function copyManifest(manifest: RepoManifest, from: string, to: string, signal?: AbortSignal): Promise<void> {
  const native = (rel: string): string => rel.split("/").join(sep);
  await mkdir(to, { recursive: true });
  let createdMode: number | undefined;
  for (const { rel } of manifest.dirs) {
    // Parents come first, so a plain mkdir is enough; an existing directory is fine.
    await mkdir(join(to, native(rel))).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    createdMode ??= (await lstat(join(to, native(rel)))).mode & 0o7777;
  }
  await mapLimit(
    manifest.files,
    PARALLEL,
    (rel) => copyFile(join(from, native(rel)), join(to, native(rel)), fsConstants.COPYFILE_FICLONE),
    signal,
  );
  await mapLimit(
    manifest.symlinks,
    PARALLEL,
    async (rel) => symlink(await readlink(join(from, native(rel))), join(to, native(rel))),
    signal,
  );
  // Directory modes last and deepest first, so read-only directories could be filled; mkdir applied the umask.
  for (const { rel, mode } of [...manifest.dirs].reverse()) {
    if (mode !== createdMode) await chmod(join(to, native(rel)), mode);
  }
}
