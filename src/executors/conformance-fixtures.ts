/**
 * Fixtures for executor tests: plan entries, job and workspace infos, and tar
 * archives to feed `writeFiles` / read from `readFiles`.
 */
import { Readable } from "node:stream";
import tarStream from "tar-stream";
import type { JobInfo, WorkspaceInfo } from "../core/executor.js";
import type { PlanExecutor, PlanJob, PlanRetry } from "../core/plan-types.js";

const ZERO_HASH = "0".repeat(64);

// ---------------------------------------------------------------- fixtures

export function makePlanExecutor(overrides: Partial<PlanExecutor> = {}): PlanExecutor {
  return { name: "conformance", kind: "local", options: {}, hash: ZERO_HASH, ...overrides };
}

const NO_RETRY: PlanRetry = { attempts: 1, backoff: "constant", delayMs: 0, maxDelayMs: 0, jitter: 0 };

/** A minimal valid plan job with the given id (the key is the id up to the first space, as for matrix ids). */
export function makePlanJob(id: string, overrides: Partial<PlanJob> = {}): PlanJob {
  return {
    id,
    key: id.split(" ")[0] ?? id,
    name: id,
    matrix: {},
    needs: [],
    if: { kind: "status", status: "success" },
    executor: "conformance",
    steps: [],
    env: {},
    retry: NO_RETRY,
    continueOnError: false,
    inputs: { artifacts: [] },
    outputs: { artifacts: [] },
    cache: false,
    caches: [],
    labels: [],
    hash: ZERO_HASH,
    ...overrides,
  };
}

export interface MakeInfoOptions {
  readonly runId?: string;
  readonly repoDir?: string;
  readonly runDir?: string;
  readonly signal?: AbortSignal;
}

/** A `JobInfo` for calling an executor by hand; `job` is a job id or a full `PlanJob`. */
export function makeJobInfo(job: string | PlanJob, options: MakeInfoOptions & { readonly attempt?: number } = {}): JobInfo {
  return {
    runId: options.runId ?? "run-test",
    repoDir: options.repoDir ?? process.cwd(),
    runDir: options.runDir ?? process.cwd(),
    job: typeof job === "string" ? makePlanJob(job) : job,
    attempt: options.attempt ?? 1,
    signal: options.signal ?? new AbortController().signal,
  };
}

/** A `WorkspaceInfo` for calling an executor by hand. */
export function makeWorkspaceInfo(
  executor: PlanExecutor,
  jobs: ReadonlyArray<string | PlanJob>,
  options: MakeInfoOptions = {},
): WorkspaceInfo {
  return {
    runId: options.runId ?? "run-test",
    repoDir: options.repoDir ?? process.cwd(),
    runDir: options.runDir ?? process.cwd(),
    executor,
    jobs: jobs.map((j) => (typeof j === "string" ? makePlanJob(j, { executor: executor.name }) : j)),
    signal: options.signal ?? new AbortController().signal,
  };
}

// ---------------------------------------------------------------- tar helpers

export interface TarFixtureEntry {
  readonly name: string;
  readonly type?: "file" | "directory" | "symlink" | "link";
  readonly mode?: number;
  readonly content?: string;
  readonly linkname?: string;
}

/** A tar stream holding exactly the given entries (names are not checked: jail tests need bad ones). */
export function buildTar(entries: readonly TarFixtureEntry[]): Readable {
  const pack = tarStream.pack();
  for (const e of entries) {
    const type = e.type ?? "file";
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    };
    if (type === "file") pack.entry(header, e.content ?? "");
    else pack.entry(header);
  }
  pack.finalize();
  return Readable.from(pack, { objectMode: false });
}

export interface TarListingEntry {
  readonly type: string;
  readonly mode: number;
  readonly content?: string;
  readonly linkname?: string;
}

/** Read a tar stream into a map from normalised name (`.` for the root, no `./`, no trailing `/`) to entry. */
export async function readTar(stream: Readable): Promise<Map<string, TarListingEntry>> {
  const extract = tarStream.extract();
  stream.pipe(extract);
  stream.on("error", (error) => extract.destroy(error));
  const out = new Map<string, TarListingEntry>();
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
    const h = entry.header;
    const name = h.name.replace(/^(\.\/)+/, "").replace(/\/+$/, "") || ".";
    out.set(name, {
      type: h.type,
      mode: h.mode & 0o777,
      ...(h.type === "file" ? { content: Buffer.concat(chunks).toString("utf8") } : {}),
      ...(h.type === "symlink" || h.type === "link" ? { linkname: h.linkname } : {}),
    });
  }
  return out;
}
