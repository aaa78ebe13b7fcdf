/**
 * Content-addressed blobs on disk: `<dir>/<aa>/<sha256>` where `aa` is the
 * first two hex digits; the one implementation of `BlobStore`
 * (src/core/blobs.ts). A blob is written to a temp file in the same
 * directory while it is hashed, fsync'd, then renamed into place, so a blob
 * path that exists always held the complete content when it was written. The
 * same content is stored once.
 *
 * Every read is checked (`open`, `copyTo`): the bytes are hashed as they
 * stream and the stream fails with `BLOB_CORRUPT` naming the blob's use and
 * path when they do not match its name. The last chunk is held back until the
 * hash is known, so a reader never gets the whole of a modified blob; a
 * copy is written to a temp file and renamed only once checked.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { BlobStore } from "../core/blobs.js";
import { GantryError } from "../core/errors.js";

const HASH = /^[0-9a-f]{64}$/;

/**
 * A pass-through that hashes what goes through and holds back the latest
 * chunk; at the end it lets that chunk out only when the SHA-256 is `hash`,
 * else it fails with `BLOB_CORRUPT` from `corrupt(actual)`.
 */
export class HashCheck extends Transform {
  private readonly hasher = createHash("sha256");
  private held: Buffer | undefined;

  constructor(
    private readonly hash: string,
    private readonly corrupt: (actual: string) => GantryError,
  ) {
    super();
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    this.hasher.update(bytes);
    const previous = this.held;
    this.held = bytes;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.hasher.digest("hex");
    if (actual !== this.hash) return callback(this.corrupt(actual));
    callback(null, this.held);
  }
}

export class BlobDir implements BlobStore {
  constructor(readonly dir: string) {}

  pathOf(hash: string): string {
    if (!HASH.test(hash)) throw new GantryError("ARTIFACT_INVALID", `"${hash}" is not a SHA-256 content hash`);
    return join(this.dir, hash.slice(0, 2), hash);
  }

  async has(hash: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(hash))).isFile();
    } catch {
      return false;
    }
  }

  /** Copy the file at `sourcePath` in, checking that its SHA-256 is `hash`. */
  async put(hash: string, sourcePath: string): Promise<void> {
    if (await this.present(hash)) return;
    // open first: a stream opened before write()'s first await would emit ENOENT with no listener
    const source = await open(sourcePath, "r");
    await this.write(source.createReadStream(), (actual) => {
      if (actual !== hash) {
        throw new GantryError(
          "ARTIFACT_INVALID",
          `blob ${sourcePath} has hash ${actual.slice(0, 12)}, not the expected ${hash.slice(0, 12)}`,
        );
      }
      return hash;
    });
  }

  async save(source: Readable, signal?: AbortSignal): Promise<{ hash: string; size: number }> {
    return this.write(source, (actual) => actual, signal);
  }

  async open(hash: string, what: string): Promise<Readable> {
    const path = this.pathOf(hash);
    if (!(await this.has(hash))) {
      throw new GantryError("ARTIFACT_INVALID", `${what}: its blob ${hash.slice(0, 12)} is missing from ${path}`);
    }
    const check = new HashCheck(hash, (actual) => corruptError(what, path, hash, actual));
    const file = createReadStream(path);
    file.on("error", (error) => check.destroy(error));
    return file.pipe(check);
  }

  /** Copy the blob, checked, to `dest` (a temp file renamed into place); false when there is no such blob. */
  async copyTo(hash: string, dest: string, what: string): Promise<boolean> {
    if (!(await this.has(hash))) return false;
    const tmp = join(dirname(dest), `.tmp-${randomUUID()}`);
    try {
      await pipeline(await this.open(hash, what), createWriteStream(tmp));
      await rename(tmp, dest);
      return true;
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /** Whether the blob is there; when it is, its mtime is renewed so a concurrent `sweep` keeps it for a row about to refer to it. */
  private async present(hash: string): Promise<boolean> {
    if (!(await this.has(hash))) return false;
    const now = new Date();
    await utimes(this.pathOf(hash), now, now).catch(() => undefined);
    return true;
  }

  /** Stream `source` to a temp file while hashing it, then rename it to the hash `name(actual)` returns (or throws for). */
  private async write(source: Readable, name: (actual: string) => string, signal?: AbortSignal): Promise<{ hash: string; size: number }> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, `.tmp-${randomUUID()}`);
    const hasher = createHash("sha256");
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer | string>) {
          for await (const chunk of chunks) {
            const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
            hasher.update(bytes);
            size += bytes.length;
            yield bytes;
          }
        },
        createWriteStream(tmp),
        signal ? { signal } : {},
      );
      const hash = name(hasher.digest("hex"));
      const handle = await open(tmp, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (await this.present(hash)) {
        await rm(tmp, { force: true });
        return { hash, size };
      }
      await mkdir(join(this.dir, hash.slice(0, 2)), { recursive: true });
      await rename(tmp, this.pathOf(hash));
      return { hash, size };
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /** Delete blobs not in `keep` whose mtime is older than `graceMs` (a blob just put may not have its row yet). */
  async sweep(keep: ReadonlySet<string>, graceMs: number, now = Date.now()): Promise<{ blobs: number; bytes: number }> {
    let blobs = 0;
    let bytes = 0;
    let prefixes: string[];
    try {
      prefixes = await readdir(this.dir);
    } catch {
      return { blobs, bytes };
    }
    for (const prefix of prefixes) {
      const path = join(this.dir, prefix);
      // Temp files of writes that died with their process.
      if (prefix.startsWith(".tmp-")) {
        const info = await stat(path).catch(() => undefined);
        if (info?.isFile() && now - info.mtimeMs >= graceMs) {
          await rm(path, { force: true });
          bytes += info.size;
        }
        continue;
      }
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const name of await readdir(path)) {
        const file = join(path, name);
        const info = await stat(file).catch(() => undefined);
        if (!info?.isFile() || now - info.mtimeMs < graceMs) continue;
        if (HASH.test(name) && keep.has(name)) continue;
        await rm(file, { force: true });
        blobs += 1;
        bytes += info.size;
      }
    }
    return { blobs, bytes };
  }
}

function corruptError(what: string, path: string, hash: string, actual: string): GantryError {
  return new GantryError(
    "BLOB_CORRUPT",
    `${what}: the stored blob ${path} does not match its hash (its content hashes to ${actual.slice(0, 12)}, not ${hash.slice(0, 12)}): it was modified or damaged on disk, and the read was stopped. Delete it (the run that saved it can be run again) or restore it from a backup`,
  );
}
