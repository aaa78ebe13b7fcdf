/**
 * Files in and out of a container's job directory through the archive API
 * (`putArchive` / `getArchive`), so it works with a remote engine too.
 *
 * The jail rules of `shared/tar.ts` hold: a tar coming in goes through its
 * checked-entry iterator into a staged archive before anything is written
 * (names, types, symlink targets and chains, hard links, no writing below a
 * symlink of the same archive), then the container is prepared by a
 * small script that refuses to write through an existing symlink and
 * removes files and symlinks about to be replaced (never following them),
 * and only then the archive is uploaded. Reading resolves the path in the
 * container (`readlink -f`) and refuses anything outside the job directory.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import type { Writable } from "node:stream";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type Docker from "dockerode";
import tarStream from "tar-stream";
import type { Header } from "tar-stream";
import { GantryError, coerceError } from "../../core/errors.js";
import { jailedRelative } from "../shared/jail.js";
import { checkedEntries } from "../shared/tar.js";
import { PREPARE_SCRIPT, RESOLVE_SCRIPT, prepareArgs } from "./convert.js";
import { apiMessage } from "./engine.js";
import { execCollect } from "./exec.js";

type Entry = AsyncIterable<Buffer> & { header: Header; resume(): void };

export interface FileTarget {
  readonly container: Docker.Container;
  /** Absolute job directory in the container. */
  readonly jobDir: string;
  /** The user processes run as (files uploaded get its uid/gid). */
  readonly user?: string;
  readonly uid: number;
  readonly gid: number;
}

function escape(message: string): GantryError {
  return new GantryError("PATH_ESCAPE", message);
}
function invalid(message: string): GantryError {
  return new GantryError("ARTIFACT_INVALID", message);
}

interface Staged {
  readonly file: string;
  readonly dirs: Set<string>;
  readonly leaves: Set<string>;
}

/** Check every entry (the jail iterator of `shared/tar.ts`) and write the archive, names rebased under `base`, to a temporary file. */
async function stage(tar: Readable, base: string, target: FileTarget, dir: string): Promise<Staged> {
  const file = join(dir, "upload.tar");
  const out = tarStream.pack();
  const sink = createWriteStream(file);
  const written = pipeline(out as unknown as Readable, sink);
  const dirs = new Set<string>();
  const leaves = new Set<string>();
  if (base !== ".") dirs.add(posix.dirname(base));
  try {
    for await (const entry of checkedEntries(tar, base)) {
      const { rel } = entry;
      const common = { mode: entry.mode, uid: target.uid, gid: target.gid, ...(entry.mtime ? { mtime: entry.mtime } : {}) };
      switch (entry.type) {
        case "directory":
          if (rel !== ".") {
            dirs.add(rel);
            out.entry({ ...common, name: `${rel}/`, type: "directory" });
          }
          break;
        case "file": {
          leaves.add(rel);
          const sinkEntry = out.entry({ ...common, name: rel, type: "file", size: entry.size }) as unknown as Writable;
          await pipeline(Readable.from(entry.body), sinkEntry);
          break;
        }
        case "symlink":
          leaves.add(rel);
          out.entry({ ...common, name: rel, type: "symlink", linkname: entry.target });
          break;
        case "link":
          leaves.add(rel);
          out.entry({ ...common, name: rel, type: "link", linkname: entry.source });
          break;
      }
    }
  } catch (error) {
    out.destroy();
    await written.catch(() => undefined);
    if (error instanceof GantryError) throw error;
    throw new GantryError("EXECUTOR_FAILED", `could not stage the files: ${coerceError(error).message}`, { cause: error });
  }
  out.finalize();
  await written;
  return { file, dirs, leaves };
}

/** Extract a tar stream into `path` (relative to the job directory), enforcing the jail rules. */
export async function writeFilesTo(target: FileTarget, path: string, tar: Readable, signal?: AbortSignal): Promise<void> {
  const base = jailedRelative(path, "artifact path");
  const dir = await mkdtemp(join(tmpdir(), "gantry-upload-"));
  try {
    const staged = await stage(tar, base, target, dir);
    const prep = await execCollect(
      target.container,
      {
        Cmd: ["/bin/sh", "-c", PREPARE_SCRIPT, "gantry", target.jobDir, ...prepareArgs(staged.dirs, staged.leaves)],
        ...(target.user !== undefined ? { User: target.user } : {}),
      },
      signal,
    );
    if (prep.exitCode === 3) throw escape(`artifact path ${JSON.stringify(path)}: ${prep.stdout.trim()}`);
    if (prep.exitCode === 4) throw invalid(`artifact path ${JSON.stringify(path)}: ${prep.stdout.trim()}`);
    if (prep.exitCode !== 0)
      throw new GantryError(
        "EXECUTOR_FAILED",
        `could not prepare ${JSON.stringify(path)} in the container: ${(prep.stderr || prep.stdout).trim()}`,
        { retryable: true },
      );
    try {
      await target.container.putArchive(createReadStream(staged.file), { path: target.jobDir, ...(signal ? { abortSignal: signal } : {}) });
    } catch (error) {
      throw new GantryError("EXECUTOR_FAILED", `could not upload files to ${target.jobDir}/${base}: ${apiMessage(error)}`, {
        cause: error,
        retryable: true,
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Rename a `getArchive` stream (entries under the basename of the path) to names relative to the path itself. */
function rebase(source: NodeJS.ReadableStream): Readable {
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  const output = new PassThrough();
  (source as Readable).on("error", (error) => extract.destroy(error));
  (source as Readable).pipe(extract as unknown as Writable);
  const run = async (): Promise<void> => {
    let root: string | undefined;
    for await (const raw of extract as unknown as AsyncIterable<Entry>) {
      const h = raw.header;
      const clean = h.name.replace(/^\.\//, "").replace(/\/+$/, "");
      root ??= clean.split("/")[0] ?? clean;
      let name = clean === root ? "." : clean.startsWith(`${root}/`) ? clean.slice(root.length + 1) : clean;
      if (h.type === "directory") name = name === "." ? "./" : `${name}/`;
      let linkname = h.linkname;
      if (h.type === "link" && linkname) {
        const l = linkname.replace(/^\.\//, "");
        linkname = l === root ? "." : l.startsWith(`${root}/`) ? l.slice(root.length + 1) : l;
      }
      const header = { ...h, name, ...(linkname !== undefined && linkname !== null ? { linkname } : {}) };
      if (h.type === "file" || h.type === "contiguous-file") {
        await pipeline(raw as unknown as Readable, pack.entry({ ...header, type: "file" }) as unknown as Writable);
      } else {
        pack.entry(header);
        raw.resume();
      }
    }
    pack.finalize();
  };
  run().catch((error: unknown) => pack.destroy(coerceError(error)));
  pack.on("error", (error) => output.destroy(error));
  (pack as unknown as Readable).pipe(output);
  return output;
}

/** A tar stream of `path` (relative to the job directory; a file or a directory). */
export async function readFilesFrom(target: FileTarget, path: string, signal?: AbortSignal): Promise<Readable> {
  const rel = jailedRelative(path, "artifact path");
  const res = await execCollect(
    target.container,
    { Cmd: ["/bin/sh", "-c", RESOLVE_SCRIPT, "gantry", target.jobDir, rel], ...(target.user !== undefined ? { User: target.user } : {}) },
    signal,
  );
  if (res.exitCode !== 0)
    throw new GantryError(
      "EXECUTOR_FAILED",
      `could not resolve ${JSON.stringify(path)} in the container: ${(res.stderr || res.stdout).trim()}`,
      { retryable: true },
    );
  const lines = res.stdout.split("\n");
  if (lines[0] === "missing") throw invalid(`artifact path ${JSON.stringify(path)} does not exist in the job directory`);
  const root = lines[0] ?? "";
  const real = lines[1] ?? "";
  if (real !== root && !real.startsWith(`${root}/`)) {
    throw escape(`artifact path: ${JSON.stringify(path)} resolves through a symlink to ${real}, outside the job directory`);
  }
  try {
    const stream = await target.container.getArchive({ path: real, ...(signal ? { abortSignal: signal } : {}) });
    return rebase(stream);
  } catch (error) {
    throw new GantryError("EXECUTOR_FAILED", `could not download ${JSON.stringify(path)} from the container: ${apiMessage(error)}`, {
      cause: error,
      retryable: true,
    });
  }
}

/** A readable for a tar built by `fill` (used for the repository copy). */
export function tarOf(fill: (pack: tarStream.Pack) => Promise<void>): Readable {
  const pack = tarStream.pack();
  fill(pack).then(
    () => pack.finalize(),
    (error: unknown) => pack.destroy(coerceError(error)),
  );
  return Readable.from(pack, { objectMode: false });
}
