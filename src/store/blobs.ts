/**
 * Content-addressed blobs on disk: `<dir>/<aa>/<sha256>` where `aa` is the
 * first two hex digits. A blob is copied to a temp file in the same
 * directory while its hash is checked, fsync'd, then renamed into place, so a
 * blob path that exists always holds the complete content. The same content
 * is stored once.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { GantryError } from "../core/errors.js";

const HASH = /^[0-9a-f]{64}$/;

export class BlobDir {
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

  async put(hash: string, sourcePath: string): Promise<void> {
    const target = this.pathOf(hash);
    if (await this.has(hash)) return;
    const dir = join(this.dir, hash.slice(0, 2));
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.tmp-${randomUUID()}`);
    const hasher = createHash("sha256");
    try {
      await pipeline(
        createReadStream(sourcePath),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hasher.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(tmp),
      );
      const actual = hasher.digest("hex");
      if (actual !== hash) {
        throw new GantryError(
          "ARTIFACT_INVALID",
          `blob ${sourcePath} has hash ${actual.slice(0, 12)}, not the expected ${hash.slice(0, 12)}`,
        );
      }
      const handle = await open(tmp, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, target);
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
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      const dir = join(this.dir, prefix);
      for (const name of await readdir(dir)) {
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (!info?.isFile() || now - info.mtimeMs < graceMs) continue;
        if (HASH.test(name) && keep.has(name)) continue;
        await rm(path, { force: true });
        blobs += 1;
        bytes += info.size;
      }
    }
    return { blobs, bytes };
  }
}
