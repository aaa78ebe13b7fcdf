/**
 * The artifacts of one run, by name and producing job. Their content lives
 * once in the run's `BlobStore` (src/core/blobs.ts: the store's blob area
 * for `gantry run`), content-addressed; reads are hash-checked there.
 */
import type { Readable } from "node:stream";
import type { BlobStore } from "../core/blobs.js";

export interface StoredArtifact {
  readonly name: string;
  readonly jobId: string;
  readonly hash: string;
  readonly size: number;
}

export class ArtifactStore {
  /** name -> producing job id -> blob, in the order they were saved. */
  private readonly byName = new Map<string, Map<string, StoredArtifact>>();

  constructor(readonly blobs: BlobStore) {}

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

  /** Store a tar stream; returns the blob (not yet registered). */
  async save(name: string, jobId: string, tar: Readable, signal?: AbortSignal): Promise<StoredArtifact> {
    const { hash, size } = await this.blobs.save(tar, signal);
    return { name, jobId, hash, size };
  }

  /** A hash-checked read stream of a stored blob; fails clearly when the blob is gone. */
  open(artifact: StoredArtifact): Promise<Readable> {
    return this.blobs.open(artifact.hash, `artifact "${artifact.name}" of ${artifact.jobId}`);
  }
}
