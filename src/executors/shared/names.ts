/**
 * File-system safe names for run, executor and job directories, shared by
 * every executor that keeps a directory per job (locally or on a host).
 * Job directories always carry a short hash of the job id, so ids that
 * differ only in case or punctuation (`test (node=20)` and `test-node-20`)
 * never share a directory.
 */
import { createHash } from "node:crypto";

const SAFE = /^[A-Za-z0-9._-]+$/;
const MAX_SLUG = 60;

/** The first 8 hex digits of the value's SHA-256. */
export function shortHash(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 8);
}

/**
 * A readable, file-system and Docker safe fragment of `value`: runs of other
 * characters become `-`, no leading or trailing `-`/`.`, at most `max`
 * characters; `lowercase` for names Docker wants in lower case (tags).
 */
export function slug(value: string, options: { readonly max?: number; readonly lowercase?: boolean } = {}): string {
  const s = (options.lowercase ? value.toLowerCase() : value)
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, options.max ?? MAX_SLUG)
    .replace(/[-.]+$/, "");
  return s === "" ? "x" : s;
}

/** A directory name for a job id: a readable slug plus a short hash of the id, e.g. `test-node-20-os-bookworm-1a2b3c4d`. */
export function jobDirName(jobId: string): string {
  return `${slug(jobId)}-${shortHash(jobId)}`;
}

/** A path segment for a run id or executor name: kept as is when already safe, else slug plus hash. */
export function safeSegment(value: string): string {
  if (SAFE.test(value) && value !== "." && value !== ".." && value.length <= 100) return value;
  return `${slug(value)}-${shortHash(value)}`;
}
