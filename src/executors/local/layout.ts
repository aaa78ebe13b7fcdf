/**
 * Where the local executor keeps things:
 *
 *   <base>/gantry/<runId>/<executorName>/template     snapshot of the repository (copyRepo)
 *   <base>/gantry/<runId>/<executorName>/jobs/<job>   one directory per job
 *
 * `<base>` is `os.tmpdir()` unless the executor is given `baseDir`. Every
 * segment is made file-system safe; job directories always carry a short
 * hash of the job id, so ids that differ only in case or punctuation
 * (`test (node=20)` and `test-node-20`) never share a directory.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

const SAFE = /^[A-Za-z0-9._-]+$/;
const MAX_SLUG = 60;

function shortHash(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 8);
}

function slug(value: string): string {
  const s = value
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, MAX_SLUG)
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

export interface LocalLayout {
  /** `<base>/gantry/<runId>` */
  readonly runRoot: string;
  /** `<base>/gantry/<runId>/<executorName>` */
  readonly workspace: string;
  readonly template: string;
  readonly jobs: string;
}

export function localLayout(baseDir: string, runId: string, executorName: string): LocalLayout {
  const runRoot = join(baseDir, "gantry", safeSegment(runId));
  const workspace = join(runRoot, safeSegment(executorName));
  return { runRoot, workspace, template: join(workspace, "template"), jobs: join(workspace, "jobs") };
}
