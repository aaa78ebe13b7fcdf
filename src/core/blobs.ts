/**
 * The contract of the content-addressed blob store (artifacts, caches,
 * repository snapshots): one copy of each content, named by its SHA-256.
 * Implemented once, on disk, by `BlobDir` (src/store/blobs.ts); the engine,
 * the CLI, the server's routes and the workers all read and write through it.
 *
 * Integrity: `open` hashes the bytes while they stream and fails the stream
 * (`BLOB_CORRUPT`, naming what the blob is for and its path) when they do not
 * match the name, before its last chunk, so no reader ever receives the whole
 * of a modified blob. Callers that make the content visible somewhere (a
 * directory, a job's workspace) must treat that error as a failed restore.
 */
import type { Readable } from "node:stream";

export interface BlobStore {
  /** Where the blob of `hash` is (or would be), for messages. */
  pathOf(hash: string): string;
  has(hash: string): Promise<boolean>;
  /** Store the bytes of `source` under their SHA-256 (temp file, fsync, rename); the same content is stored once. */
  save(source: Readable, signal?: AbortSignal): Promise<{ readonly hash: string; readonly size: number }>;
  /**
   * The bytes of the blob, checked against `hash` as they stream (see above).
   * Rejects with `ARTIFACT_INVALID` when there is no such blob. `what` names
   * its use in messages (`artifact "dist"`).
   */
  open(hash: string, what: string): Promise<Readable>;
}
