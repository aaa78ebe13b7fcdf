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
 * sockets, FIFOs, devices. Extraction enforces the jail, see `extractTar`.
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
import type { Extract, Header } from "tar-stream";
import { GantryError, coerceError } from "../../core/errors.js";
import { checkRelativePath, symlinkStaysInside } from "../../core/paths.js";
import { jailedRelative, resolveInside } from "./jail.js";

type Headers = Partial<Header> & Pick<Header, "name">;
type Entry = Extract extends AsyncIterable<infer S> ? S : never;

/** Permission bits kept from archives and files: rwx for all plus sticky; setuid/setgid are dropped. */
const MODE_MASK = 0o1777;

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

async function writeEntry(ex: Extraction, header: Header, body: AsyncIterable<Buffer>): Promise<void> {
  const entry = header.name;
  const checked = checkRelativePath(entry);
  if (!checked.ok) throw new GantryError("PATH_ESCAPE", `tar entry ${JSON.stringify(entry)} refused: ${checked.error}`);
  const rel = posix.join(ex.base, checked.path);
  const mode = (header.mode ?? 0o644) & MODE_MASK;

  switch (header.type) {
    case "directory": {
      await ex.ensureDir(rel, entry);
      if (rel !== ".") ex.dirAttrs.set(rel, { mode: (header.mode ?? 0o755) & MODE_MASK, mtime: header.mtime });
      return;
    }
    case "file":
    case "contiguous-file":
    case null:
    case undefined: {
      if (rel === ".")
        throw new GantryError("ARTIFACT_INVALID", `tar entry ${JSON.stringify(entry)}: cannot replace the job directory with a file`);
      await ex.prepareLeaf(rel, entry);
      const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fsConstants;
      const file = await open(ex.abs(rel), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      try {
        for await (const chunk of body) await file.write(chunk);
        await file.chmod(mode);
        if (header.mtime) await file.utimes(header.mtime, header.mtime);
      } finally {
        await file.close();
      }
      return;
    }
    case "symlink": {
      const target = header.linkname ?? "";
      if (target === "" || target.includes("\0"))
        throw new GantryError("ARTIFACT_INVALID", `tar entry ${JSON.stringify(entry)}: symlink without a valid target`);
      if (!symlinkStaysInside(rel, target)) {
        throw new GantryError(
          "PATH_ESCAPE",
          `tar entry ${JSON.stringify(entry)}: symlink to ${JSON.stringify(target)} points outside the job directory`,
        );
      }
      if (rel === ".")
        throw new GantryError("ARTIFACT_INVALID", `tar entry ${JSON.stringify(entry)}: cannot replace the job directory with a symlink`);
      await ex.prepareLeaf(rel, entry);
      await symlink(target, ex.abs(rel));
      return;
    }
    case "link": {
      const linkChecked = checkRelativePath(header.linkname ?? "");
      if (!linkChecked.ok)
        throw new GantryError("PATH_ESCAPE", `tar entry ${JSON.stringify(entry)}: hard link refused: ${linkChecked.error}`);
      const sourceRel = posix.join(ex.base, linkChecked.path);
      // The source's directories must be real directories inside the root, and the source a regular file.
      await ex.ensureDir(posix.dirname(sourceRel), entry);
      const source = ex.abs(sourceRel);
      const stat = await lstat(source).catch(() => undefined);
      if (!stat?.isFile()) {
        throw new GantryError(
          "ARTIFACT_INVALID",
          `tar entry ${JSON.stringify(entry)}: hard link target ${JSON.stringify(header.linkname)} is not a file extracted before it`,
        );
      }
      if (rel === ".")
        throw new GantryError("ARTIFACT_INVALID", `tar entry ${JSON.stringify(entry)}: cannot replace the job directory with a link`);
      await ex.prepareLeaf(rel, entry);
      await link(source, ex.abs(rel));
      return;
    }
    default:
      throw new GantryError(
        "ARTIFACT_INVALID",
        `tar entry ${JSON.stringify(entry)} is a ${header.type}; only files, directories and links are allowed`,
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
export async function extractTar(tar: Readable, root: string, rel: string): Promise<void> {
  const base = jailedRelative(rel, "artifact path");
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (error) {
    tar.destroy();
    throw new GantryError("EXECUTOR_FAILED", `cannot extract into ${root}: ${coerceError(error).message}`, { cause: error });
  }
  const ex = new Extraction(realRoot, base);
  const extract = tarStream.extract();
  const onSourceError = (error: Error): void => {
    extract.destroy(error);
  };
  tar.on("error", onSourceError);
  tar.pipe(extract as unknown as Writable);

  const iterator = (extract as unknown as AsyncIterable<Entry>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Entry>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw error instanceof GantryError
          ? error
          : new GantryError("ARTIFACT_INVALID", `not a valid tar stream: ${coerceError(error).message}`, { cause: error });
      }
      if (next.done) break;
      const entry = next.value;
      try {
        await writeEntry(ex, entry.header, entry as unknown as AsyncIterable<Buffer>);
      } catch (error) {
        if (error instanceof GantryError) throw error;
        throw new GantryError("EXECUTOR_FAILED", `tar entry ${JSON.stringify(entry.header.name)}: ${coerceError(error).message}`, {
          cause: error,
        });
      }
      entry.resume(); // drain bodies of entries that have none to write
    }
    // Deepest first, so a read-only parent does not block its children's chmod.
    const dirs = [...ex.dirAttrs.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [dir, attrs] of dirs) {
      const abs = ex.abs(dir);
      await chmod(abs, attrs.mode);
      if (attrs.mtime) await utimes(abs, attrs.mtime, attrs.mtime);
    }
  } catch (error) {
    tar.unpipe(extract);
    tar.on("error", () => undefined); // late errors of a source we gave up on
    tar.destroy();
    await iterator.return?.();
    await ex.rollback();
    throw error;
  } finally {
    tar.off("error", onSourceError);
  }
}
