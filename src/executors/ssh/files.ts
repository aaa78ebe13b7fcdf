/**
 * Files over the connection, as tar streams: `tar` runs on the host, the
 * streams are checked and rewritten on the runner.
 *
 * writeFiles: the incoming archive goes through the jail iterator of
 * `shared/tar.ts` (names, types, symlink targets and chains, hard links, no
 * writing through a symlink of the archive), is checked against the
 * symlinks already on the host, and is re-packed into a spool file on
 * the runner; only a fully valid archive is sent, so a refused one never
 * reaches the host. readFiles: the host's `tar -c` output is renamed to the
 * format of `shared/tar.ts` (the path itself is `.`).
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, readlink, rm } from "node:fs/promises";
import { join, posix } from "node:path";
import { PassThrough, Readable } from "node:stream";
import type { Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import tarStream from "tar-stream";
import type { Extract, Header, Pack } from "tar-stream";
import { GantryError, coerceError } from "../../core/errors.js";
import { checkRelativePath } from "../../core/paths.js";
import type { RepoManifest } from "../shared/repo-copy.js";
import { checkedEntries, MODE_MASK } from "../shared/tar.js";
import { EXIT_ESCAPE, EXIT_MISSING, EXIT_NO_TAR, archiveCommand, extractCommand } from "./command.js";
import { exitOf, type SshConnection } from "./connection.js";
import { describeHost, noTarError, remoteCommandError } from "./errors.js";

type Entry = Extract extends AsyncIterable<infer S> ? S : never;
type Headers = Partial<Header> & Pick<Header, "name">;

function addEntry(pack: Pack, header: Headers, body?: Buffer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    pack.entry(header, body ?? Buffer.alloc(0), (error?: Error | null) => (error ? reject(error) : resolve()));
  });
}

async function streamEntry(pack: Pack, header: Headers, body: AsyncIterable<Buffer>): Promise<void> {
  const sink = pack.entry(header) as unknown as Writable;
  await pipeline(Readable.from(body), sink);
}

// ---------------------------------------------------------------- writeFiles

interface Validated {
  /** Names relative to the target, normalised (`.` for the target itself), with their types. */
  readonly entries: ReadonlyArray<{ readonly name: string; readonly type: string }>;
}

/**
 * Check every entry of `source` (the jail iterator of `shared/tar.ts`) and
 * re-pack the valid archive into `spool`, names relative to the job
 * directory. `base` is the target path relative to the job directory.
 */
async function validateInto(source: Readable, base: string, spool: string): Promise<Validated> {
  const pack = tarStream.pack();
  const out = createWriteStream(spool, { mode: 0o600 });
  const written = pipeline(pack, out);
  const entries: Array<{ name: string; type: string }> = [];
  try {
    for await (const entry of checkedEntries(source, base)) {
      const { rel, mode } = entry;
      const mtime = entry.mtime ?? new Date();
      const tarName = rel === "." ? "./" : rel;
      switch (entry.type) {
        case "directory":
          await addEntry(pack, { name: rel === "." ? "./" : `${rel}/`, type: "directory", mode, mtime });
          break;
        case "file":
          await streamEntry(pack, { name: tarName, type: "file", mode, mtime, size: entry.size }, entry.body);
          break;
        case "symlink":
          await addEntry(pack, { name: tarName, type: "symlink", linkname: entry.target, mode, mtime });
          break;
        case "link":
          await addEntry(pack, { name: tarName, type: "link", linkname: entry.source, mode, mtime });
          break;
      }
      // Names relative to the target path, for the check against the host's symlinks.
      entries.push({ name: base === "." ? rel : rel === base ? "." : posix.relative(base, rel), type: entry.type });
    }
    pack.finalize();
    await written;
    return { entries };
  } catch (error) {
    pack.destroy();
    await written.catch(() => undefined);
    if (error instanceof GantryError) throw error;
    throw new GantryError("EXECUTOR_FAILED", `could not spool the files: ${coerceError(error).message}`, { cause: error });
  }
}

/** Refuse entries that would go through (or replace a directory with) a symlink already on the host. */
function checkAgainstHost(entries: Validated["entries"], hostSymlinks: ReadonlySet<string>, path: string): void {
  if (hostSymlinks.size === 0) return;
  for (const { name, type } of entries) {
    let dir = type === "directory" ? name : posix.dirname(name);
    for (; dir !== "." && dir !== "/"; dir = posix.dirname(dir)) {
      if (hostSymlinks.has(dir)) {
        throw new GantryError(
          "PATH_ESCAPE",
          `tar entry ${JSON.stringify(name)}: ${JSON.stringify(posix.join(path, dir))} is a symlink in the job directory; refusing to write through it`,
        );
      }
    }
  }
}

/** Extract `tar` into `jobDir/path` on the host, enforcing the jail (see the module comment). */
export async function writeRemote(conn: SshConnection, jobDir: string, path: string, tar: Readable, spoolDir: string): Promise<void> {
  const checked = checkRelativePath(path);
  if (!checked.ok) {
    tar.destroy();
    throw new GantryError("PATH_ESCAPE", `artifact path: ${checked.error}`);
  }
  const rel = checked.path;
  await mkdir(spoolDir, { recursive: true });
  const spool = join(spoolDir, `ssh-restore-${randomUUID()}.tar`);
  try {
    const validated = await validateInto(tar, rel, spool);
    const check = await conn.run(extractCommand(jobDir, rel, "check"));
    failOnExit(conn, check.code, check.stderr, `restoring into ${JSON.stringify(path)}`);
    const hostSymlinks = new Set(
      check.stdout
        .toString("utf8")
        .split("\0")
        .filter((s) => s !== "")
        .map((s) => posix.normalize(s)),
    );
    checkAgainstHost(validated.entries, hostSymlinks, rel);
    const result = await conn.run(extractCommand(jobDir, rel, "extract"), { stdin: createReadStream(spool) });
    failOnExit(conn, result.code, result.stderr, `restoring into ${JSON.stringify(path)}`);
  } finally {
    await rm(spool, { force: true });
  }
}

function failOnExit(conn: SshConnection, code: number | null, stderr: Buffer, what: string): void {
  if (code === 0) return;
  if (code === EXIT_NO_TAR) throw noTarError(conn.target);
  if (code === EXIT_ESCAPE)
    throw new GantryError(
      "PATH_ESCAPE",
      `${what}: the path goes through a symlink on ${describeHost(conn.target)} (${stderr
        .toString()
        .trim()
        .replace(/^gantry: /, "")})`,
    );
  throw remoteCommandError(conn.target, what, stderr, code);
}

// ---------------------------------------------------------------- readFiles

/** Rename the host's archive to the shared format and keep only files, directories and links. */
async function rename(source: Readable, out: Pack): Promise<void> {
  const extract = tarStream.extract();
  source.on("error", (error) => extract.destroy(error));
  source.pipe(extract as unknown as Writable);
  let mode: "dir" | "file" | undefined;
  const normal = (name: string): string => {
    if (mode === "file") return ".";
    const n = name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
    return n === "" || n === "." ? "." : n;
  };
  for await (const entry of extract as unknown as AsyncIterable<Entry>) {
    const h = entry.header;
    if (mode === undefined) mode = h.type === "directory" && /^\.\/?$/.test(h.name) ? "dir" : "file";
    const name = normal(h.name);
    const mtime = h.mtime ?? new Date();
    const perm = (h.mode ?? 0o644) & MODE_MASK;
    if (h.type === "directory") await addEntry(out, { name: name === "." ? "./" : `${name}/`, type: "directory", mode: perm, mtime });
    else if (h.type === "file" || h.type === "contiguous-file")
      await streamEntry(out, { name, type: "file", mode: perm, mtime, size: h.size ?? 0 }, entry as unknown as AsyncIterable<Buffer>);
    else if (h.type === "symlink") await addEntry(out, { name, type: "symlink", linkname: h.linkname ?? "", mode: 0o777, mtime });
    else if (h.type === "link") await addEntry(out, { name, type: "link", linkname: normal(h.linkname ?? ""), mode: perm, mtime });
    entry.resume();
  }
  out.finalize();
}

/**
 * A tar stream of `jobDir/path` on the host. Rejects (before any data) when
 * the path is missing, leaves the job directory, or tar is missing; later
 * failures arrive as an `error` on the stream.
 */
export async function readRemote(conn: SshConnection, jobDir: string, path: string): Promise<Readable> {
  const checked = checkRelativePath(path);
  if (!checked.ok) throw new GantryError("PATH_ESCAPE", `artifact path: ${checked.error}`);
  const channel = await conn.exec(archiveCommand(jobDir, checked.path));
  channel.end();
  const stderr: Buffer[] = [];
  channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const firstChunk = new Promise<Buffer | null>((resolve) => {
    const onData = (chunk: Buffer): void => {
      cleanup();
      channel.pause();
      resolve(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const cleanup = (): void => {
      channel.off("data", onData);
      channel.off("end", onEnd);
      channel.off("close", onEnd);
    };
    channel.on("data", onData);
    channel.once("end", onEnd);
    channel.once("close", onEnd);
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    let code: number | null | undefined;
    channel.on("exit", (c: number | null) => (code = c));
    channel.on("close", () =>
      (code ??= exitOf(channel)?.code) === undefined
        ? reject(conn.error ?? remoteCommandError(conn.target, `reading ${JSON.stringify(path)}`, "", null))
        : resolve(code),
    );
  });
  exited.catch(() => undefined);
  const errorFor = (code: number | null): GantryError | undefined => {
    if (code === 0) return undefined;
    if (code === EXIT_MISSING)
      return new GantryError("ARTIFACT_INVALID", `artifact path ${JSON.stringify(path)} does not exist in the job directory`);
    if (code === EXIT_NO_TAR) return noTarError(conn.target);
    if (code === EXIT_ESCAPE)
      return new GantryError(
        "PATH_ESCAPE",
        `artifact path ${JSON.stringify(path)} resolves outside the job directory on ${describeHost(conn.target)}`,
      );
    return remoteCommandError(conn.target, `reading ${JSON.stringify(path)}`, Buffer.concat(stderr), code);
  };
  // Wait for the first byte (or the exit), so a missing path rejects here rather than mid-stream.
  const winner = await Promise.race([firstChunk.then((chunk) => ({ chunk })), exited.then((code) => ({ code }))]);
  if ("code" in winner) {
    const error = errorFor(winner.code);
    if (error) {
      channel.close();
      throw error;
    }
  }
  const chunk = "chunk" in winner ? winner.chunk : await firstChunk;
  if (chunk === null) {
    throw errorFor(await exited) ?? remoteCommandError(conn.target, `reading ${JSON.stringify(path)}`, "tar wrote nothing", 0);
  }
  const raw = new PassThrough();
  channel.unshift(chunk);
  channel.pipe(raw);
  const out = tarStream.pack();
  const result = Readable.from(out, { objectMode: false });
  rename(raw, out)
    .then(async () => {
      const error = errorFor(await exited);
      if (error) result.destroy(error);
    })
    .catch(async (error: unknown) => {
      const remote = await exited.then(errorFor, (e: unknown) => e as Error);
      result.destroy(
        remote ??
          (error instanceof GantryError
            ? error
            : new GantryError(
                "EXECUTOR_FAILED",
                `reading ${JSON.stringify(path)} from ${describeHost(conn.target)}: ${coerceError(error).message}`,
                { cause: error, retryable: true },
              )),
      );
    });
  return result;
}

// ---------------------------------------------------------------- repository

/** Pack the repository's files (a manifest of `shared/repo-copy.ts`) into a tar file. */
export async function packRepo(repoDir: string, manifest: RepoManifest, file: string): Promise<void> {
  const pack = tarStream.pack();
  const out = createWriteStream(file, { mode: 0o600 });
  const written = pipeline(pack, out);
  try {
    for (const { rel, mode } of manifest.dirs) await addEntry(pack, { name: `${rel}/`, type: "directory", mode: mode & MODE_MASK });
    for (const rel of manifest.files) {
      const abs = join(repoDir, ...rel.split("/"));
      const stat = await lstat(abs);
      if (!stat.isFile()) continue;
      const sink = pack.entry({
        name: rel,
        type: "file",
        mode: stat.mode & MODE_MASK,
        mtime: stat.mtime,
        size: stat.size,
      }) as unknown as Writable;
      await pipeline(createReadStream(abs), sink);
    }
    for (const rel of manifest.symlinks) {
      const abs = join(repoDir, ...rel.split("/"));
      await addEntry(pack, { name: rel, type: "symlink", linkname: await readlink(abs), mode: 0o777 });
    }
    pack.finalize();
    await written;
  } catch (error) {
    pack.destroy();
    await finished(out).catch(() => undefined);
    throw error;
  }
}
