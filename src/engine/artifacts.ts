/**
 * Content-addressed artifact blobs of one run: `<runDir>/artifacts/<sha256>.tar`.
 * A tar stream from `executor.readFiles` is written to a temp file while it is
 * hashed, then renamed to its hash (the same content is stored once).
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { access, mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GantryError } from "../core/errors.js";

export interface StoredArtifact {
  readonly name: string;
  readonly jobId: string;
  readonly hash: string;
  readonly size: number;
  /** Absolute path of the tar blob. */
  readonly path: string;
}

export class ArtifactStore {
  readonly dir: string;
  private ready: Promise<unknown> | undefined;
  /** name -> producing job id -> blob, in the order they were saved. */
  private readonly byName = new Map<string, Map<string, StoredArtifact>>();

  constructor(runDir: string) {
    this.dir = join(runDir, "artifacts");
  }

  /** Record a blob that exists already (restored from an earlier run). */
  register(artifact: StoredArtifact): void {
    let producers = this.byName.get(artifact.name);
    if (!producers) this.byName.set(artifact.name, (producers = new Map()));
    if (!producers.has(artifact.jobId)) producers.set(artifact.jobId, artifact);
  }

  /** The blob of `name` from the first job in `from` that produced it. */
  find(name: string, from: readonly string[]): StoredArtifact | undefined {
    const producers = this.byName.get(name);
    if (!producers) return undefined;
    for (const jobId of from) {
      const found = producers.get(jobId);
      if (found) return found;
    }
    return undefined;
  }

  /** The first blob saved under each name. */
  list(): StoredArtifact[] {
    const out: StoredArtifact[] = [];
    for (const producers of this.byName.values()) {
      const first = producers.values().next();
      if (!first.done) out.push(first.value);
    }
    return out;
  }

  blobPath(hash: string): string {
    return join(this.dir, `${hash}.tar`);
  }

  /** Store a tar stream; returns the blob (not yet registered). */
  async save(name: string, jobId: string, tar: Readable, signal?: AbortSignal): Promise<StoredArtifact> {
    this.ready ??= mkdir(this.dir, { recursive: true });
    await this.ready;
    const tmp = join(this.dir, `.tmp-${randomUUID()}`);
    const hasher = createHash("sha256");
    let size = 0;
    try {
      await pipeline(
        tar,
        async function* (source: AsyncIterable<Buffer | string>) {
          for await (const chunk of source) {
            const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
            hasher.update(bytes);
            size += bytes.length;
            yield bytes;
          }
        },
        createWriteStream(tmp),
        signal ? { signal } : {},
      );
      const hash = hasher.digest("hex");
      const path = this.blobPath(hash);
      await rename(tmp, path);
      return { name, jobId, hash, size, path };
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /** A read stream of a stored blob; fails clearly when the blob is gone. */
  async open(artifact: StoredArtifact): Promise<Readable> {
    try {
      await access(artifact.path);
    } catch {
      throw new GantryError(
        "ARTIFACT_INVALID",
        `artifact "${artifact.name}" (${artifact.hash.slice(0, 12)}) is missing from ${artifact.path}`,
      );
    }
    return createReadStream(artifact.path);
  }
}
