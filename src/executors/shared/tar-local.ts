/**
 * Tar streams of workspace paths, the format of `readFiles`/`writeFiles`.
 *
 * Entry names are relative to the packed path itself, the way
 * `tar -C <path> -cf - .` names them: the path is the entry `.` (`./` for a
 * directory, `.` for a single file), its contents are `a.txt`, `sub/`,
 * `sub/b.txt`. So `writeFiles(job, q, await readFiles(job, p))` makes `q` a
 * copy of `p`, whether `p` is a file or a directory.
 *
 * Kept: regular files (with their permission bits), directories (empty
 * ones too), symlinks (as symlinks, not followed). Skipped when packing:
 * sockets, FIFOs, devices. Extraction into a local directory (`extractTar`)
 * writes what the jail iterator of `tar.ts` lets through, then checks the
 * chains of the symlinks it made against what is on the disk.
 */
import { createReadStream } from "node:fs";
import { chmod, link, lstat, mkdir, open, readdir, readlink, realpath, rm, symlink, unlink, utimes } from "node:fs/promises";
import type { Stats } from "node:fs";
import { constants as fsConstants } from "node:fs";
import { join, posix } from "node:path";
import type { Writable } from "node:stream";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tarStream from "tar-stream";
import type { Header } from "tar-stream";
import { GantryError, coerceError } from "../../core/errors.js";
import { resolveSymlinkChain } from "../../core/paths.js";
import { jailedRelative, resolveInside } from "./jail.js";
import { checkedEntries, MODE_MASK, type CheckedEntriesOptions, type CheckedEntry } from "./tar.js";

type Headers = Partial<Header> & Pick<Header, "name">;

// ---------------------------------------------------------------- packing

/**
 * A tar stream of `rel` (a file or a directory) below `root`. The path may
 * go through symlinks that stay inside `root`; symlinks inside the packed
 * tree are stored as symlinks. Errors (missing path, escape) arrive as an
 * `error` event on the stream.
 */
export function packPath(root: string, rel: string): Readable {
  const pack = tarStream.pack();
  let current: Readable | undefined;
  pack.on("close", () => current?.destroy());

  const addFile = async (abs: string, header: Headers): Promise<void> => {
    const sink = pack.entry(header) as unknown as Writable;
    const source = createReadStream(abs);
    current = source;
    try {
      await pipeline(source, sink);
    } finally {
      current = undefined;
    }
  };

  const addVoid = (header: Headers): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      pack.entry(header, (error?: Error | null) => (error ? reject(error) : resolve()));
    });

  const add = async (abs: string, name: string, stat: Stats): Promise<void> => {
    const mode = stat.mode & MODE_MASK;
    const mtime = stat.mtime;
    if (stat.isDirectory()) {
      await addVoid({ name: name === "." ? "./" : `${name}/`, type: "directory", mode, mtime });
      const children = (await readdir(abs)).sort();
      for (const child of children) {
        const childAbs = join(abs, child);
        let childStat: Stats;
        try {
          childStat = await lstat(childAbs);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOENT") continue; // removed while packing
          throw error;
        }
        await add(childAbs, name === "." ? child : `${name}/${child}`, childStat);
      }
    } else if (stat.isFile()) {
      await addFile(abs, { name, type: "file", mode, mtime, size: stat.size });
    } else if (stat.isSymbolicLink()) {
      await addVoid({ name, type: "symlink", linkname: await readlink(abs), mode: 0o777, mtime });
    }
    // sockets, FIFOs and devices are not artifacts
  };

  const run = async (): Promise<void> => {
    const abs = await resolveInside(root, rel, "artifact path");
    if (abs === undefined) {
      throw new GantryError("ARTIFACT_INVALID", `artifact path ${JSON.stringify(rel)} does not exist in the job directory`);
    }
    await add(abs, ".", await lstat(abs));
    pack.finalize();
  };

  run().catch((error: unknown) => {
    const err =
      error instanceof GantryError
        ? error
        : new GantryError("EXECUTOR_FAILED", `could not pack ${JSON.stringify(rel)}: ${coerceError(error).message}`, { cause: error });
    pack.destroy(err);
  });
  return Readable.from(pack, { objectMode: false });
}

// ---------------------------------------------------------------- extraction

class Extraction {
  /** Paths this extraction created, in order (removed again when it fails). */
  readonly created: string[] = [];
  /** Directory modes and times, applied last so read-only directories can be filled first. */
  readonly dirAttrs = new Map<string, { mode: number; mtime: Date | undefined }>();
  /** Symlinks this extraction made, with their entry names (checked on the disk at the end). */
  readonly symlinks = new Map<string, { name: string; target: string }>();
  /** Directories (relative to the root) known to be real directories, not symlinks. */
  private readonly safeDirs = new Set<string>(["."]);

  constructor(
    readonly root: string,
    readonly base: string,
  ) {}

  abs(rel: string): string {
    return rel === "." ? this.root : join(this.root, rel);
  }

  /** Make sure `rel` is a real directory, creating missing ones, never going through a symlink. */
  async ensureDir(rel: string, entry: string): Promise<void> {
    if (this.safeDirs.has(rel)) return;
    const parent = posix.dirname(rel);
    await this.ensureDir(parent, entry);
    const abs = this.abs(rel);
    let stat: Stats | undefined;
    try {
      stat = await lstat(abs);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (stat === undefined) {
      await mkdir(abs);
      this.created.push(abs);
    } else if (stat.isSymbolicLink()) {
      throw new GantryError(
        "PATH_ESCAPE",
        `tar entry ${JSON.stringify(entry)}: ${JSON.stringify(rel)} is a symlink; refusing to write through it`,
      );
    } else if (!stat.isDirectory()) {
      throw new GantryError("ARTIFACT_INVALID", `tar entry ${JSON.stringify(entry)}: ${JSON.stringify(rel)} exists and is not a directory`);
    }
    this.safeDirs.add(rel);
  }

  /** Clear the way for a new file or link at `rel`: an existing file or symlink is removed (never followed). */
  async prepareLeaf(rel: string, entry: string): Promise<void> {
    await this.ensureDir(posix.dirname(rel), entry);
    const abs = this.abs(rel);
    let stat: Stats;
    try {
      stat = await lstat(abs);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        this.created.push(abs);
        return;
      }
      throw error;
    }
    if (stat.isDirectory()) {
      throw new GantryError("ARTIFACT_INVALID", `tar entry ${JSON.stringify(entry)}: a directory already exists at ${JSON.stringify(rel)}`);
    }
    await unlink(abs);
  }

  async rollback(): Promise<void> {
    for (const abs of [...this.created].reverse()) {
      await rm(abs, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

async function writeEntry(ex: Extraction, entry: CheckedEntry): Promise<void> {
  const { name, rel } = entry;
  switch (entry.type) {
    case "directory":
      await ex.ensureDir(rel, name);
      if (rel !== ".") ex.dirAttrs.set(rel, { mode: entry.mode, mtime: entry.mtime });
      return;
    case "file": {
      await ex.prepareLeaf(rel, name);
      const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fsConstants;
      const file = await open(ex.abs(rel), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of entry.body) await file.write(chunk);
        await file.chmod(entry.mode);
        if (entry.mtime) await file.utimes(entry.mtime, entry.mtime);
      } finally {
        await file.close();
      }
      return;
    }
    case "symlink":
      await ex.prepareLeaf(rel, name);
      await symlink(entry.target, ex.abs(rel));
      ex.symlinks.set(rel, { name, target: entry.target });
      return;
    case "link": {
      // The source is a file this archive made; its directories must still be real directories inside the root.
      await ex.ensureDir(posix.dirname(entry.source), name);
      const source = ex.abs(entry.source);
      const stat = await lstat(source).catch(() => undefined);
      if (!stat?.isFile()) {
        throw new GantryError(
          "ARTIFACT_INVALID",
          `tar entry ${JSON.stringify(name)}: hard link target ${JSON.stringify(entry.source)} is not a file`,
        );
      }
      await ex.prepareLeaf(rel, name);
      await link(source, ex.abs(rel));
      return;
    }
  }
}

/**
 * Symlinks already in the directory take part in chains too (the archive
 * cannot know them): resolve each symlink this extraction made on the disk.
 */
async function checkChainsOnDisk(ex: Extraction, rootName: string): Promise<void> {
  const readLink = async (rel: string): Promise<string | undefined> => {
    const abs = ex.abs(rel);
    const stat = await lstat(abs).catch(() => undefined);
    return stat?.isSymbolicLink() ? readlink(abs) : undefined;
  };
  for (const [rel, { name, target }] of ex.symlinks) {
    const result = await resolveSymlinkChain(rel, target, readLink);
    if (result.ok) continue;
    const through = result.via !== undefined ? ` through the symlink ${JSON.stringify(result.via)}` : "";
    throw new GantryError(
      result.reason === "loop" ? "ARTIFACT_INVALID" : "PATH_ESCAPE",
      result.reason === "loop"
        ? `tar entry ${JSON.stringify(name)}: symlink to ${JSON.stringify(target)} goes through too many symlinks`
        : `tar entry ${JSON.stringify(name)}: symlink to ${JSON.stringify(target)} resolves outside ${rootName}${through}`,
    );
  }
}

/**
 * Extract a tar stream into `rel` below `root` (created when missing),
 * enforcing the jail: entries with absolute names or `..`, symlinks whose
 * targets leave `root`, hard links to anything but a file inside, and any
 * write through an existing symlink are refused with a `GantryError`
 * (`PATH_ESCAPE` or `ARTIFACT_INVALID`) naming the entry. Devices and FIFOs
 * are refused. Nothing is ever written outside `root`; on failure the files
 * and directories this extraction created are removed again (files it
 * replaced stay replaced).
 */
export async function extractTar(tar: Readable, root: string, rel: string, options: CheckedEntriesOptions = {}): Promise<void> {
  const base = jailedRelative(rel, "artifact path");
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (error) {
    tar.destroy();
    throw new GantryError("EXECUTOR_FAILED", `cannot extract into ${root}: ${coerceError(error).message}`, { cause: error });
  }
  const ex = new Extraction(realRoot, base);
  try {
    for await (const entry of checkedEntries(tar, base, options)) {
      try {
        await writeEntry(ex, entry);
      } catch (error) {
        if (error instanceof GantryError) throw error;
        throw new GantryError("EXECUTOR_FAILED", `tar entry ${JSON.stringify(entry.name)}: ${coerceError(error).message}`, {
          cause: error,
        });
      }
    }
    await checkChainsOnDisk(ex, options.rootName ?? "the job directory");
    // Deepest first, so a read-only parent does not block its children's chmod.
    const dirs = [...ex.dirAttrs.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [dir, attrs] of dirs) {
      const abs = ex.abs(dir);
      await chmod(abs, attrs.mode);
      if (attrs.mtime) await utimes(abs, attrs.mtime, attrs.mtime);
    }
  } catch (error) {
    await ex.rollback();
    throw error;
  }
}
