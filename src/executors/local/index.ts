/**
 * The local executor: a directory per job on the runner's disk, processes
 * as child process trees (own process group, SIGTERM then SIGKILL to the
 * whole group on abort, leftovers killed when the main process exits).
 * Layout in `layout.ts`, repository copies in `repo-copy.ts`.
 */
import { tmpdir } from "node:os";
import { chmod, lstat, mkdir, readdir, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { GantryError, coerceError } from "../../core/errors.js";
import type { ExecIO, ExecRequest, ExecResult, Executor, JobInfo, WorkspaceInfo } from "../../core/executor.js";
import { parseExecutorOptions } from "../../core/executor-kind.js";
import type { PlanExecutor } from "../../core/plan-types.js";
import { localOptionsSchema } from "./schema.js";
import { resolveInside } from "../shared/jail.js";
import { DEFAULT_KILL_GRACE_MS, spawnTree } from "../shared/process.js";
import { extractTar, packPath } from "../shared/tar-local.js";
import { jobDirName } from "../shared/names.js";
import { localLayout } from "./layout.js";
import type { LocalLayout } from "./layout.js";
import { copyManifest, listRepo } from "../shared/repo-copy.js";
import type { RepoManifest } from "../shared/repo-copy.js";

export { jobDirName, safeSegment } from "../shared/names.js";
export { localLayout } from "./layout.js";
export type { LocalLayout } from "./layout.js";

export interface LocalExecutorConfig {
  /** Parent of the `gantry/` scratch directory (default: `os.tmpdir()`). */
  readonly baseDir?: string;
  /** Time between SIGTERM and SIGKILL when a request does not say (default 10 s). */
  readonly killGraceMs?: number;
}

/** Remove a tree, also when it holds read-only directories. Missing is fine. */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw error;
    await makeWritable(path);
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
  }
}

async function makeWritable(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isDirectory()) return;
  await chmod(path, 0o700).catch(() => undefined);
  for (const name of await readdir(path).catch(() => [] as string[])) await makeWritable(join(path, name));
}

/** The local executor; its job directories are on the runner's disk, so `localJobDir` always answers. */
export interface LocalExecutor extends Executor {
  localJobDir(job: JobInfo): string;
}

interface RunState {
  /** The repository snapshot, taken once per workspace (lazily when setupWorkspace was skipped). */
  template?: Promise<RepoManifest>;
}

export function createLocalExecutor(def: PlanExecutor, options: LocalExecutorConfig = {}): LocalExecutor {
  const baseDir = options.baseDir ?? tmpdir();
  const copyRepo = parseExecutorOptions(localOptionsSchema, def).copyRepo !== false;
  const runs = new Map<string, RunState>();

  const layout = (runId: string): LocalLayout => localLayout(baseDir, runId, def.name);
  const jobDir = (job: JobInfo): string => join(layout(job.runId).jobs, jobDirName(job.job.id));
  const runState = (runId: string): RunState => {
    let state = runs.get(runId);
    if (!state) {
      state = {};
      runs.set(runId, state);
    }
    return state;
  };

  const template = (runId: string, repoDir: string, signal: AbortSignal): Promise<RepoManifest> => {
    const state = runState(runId);
    if (!state.template) {
      const dir = layout(runId).template;
      state.template = (async () => {
        await removeTree(dir);
        const manifest = await listRepo(repoDir);
        await copyManifest(manifest, repoDir, dir, signal);
        return manifest;
      })();
      // A failed snapshot may be retried by the next caller.
      state.template.catch(() => {
        if (runs.get(runId) === state) state.template = undefined;
      });
    }
    return state.template;
  };

  const existingJobDir = async (job: JobInfo): Promise<string> => {
    const dir = jobDir(job);
    const info = await stat(dir).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw new GantryError(
        "EXECUTOR_FAILED",
        `job directory of ${JSON.stringify(job.job.id)} does not exist (${dir}); setupJob must run first`,
      );
    }
    return dir;
  };

  return {
    name: def.name,

    async setupWorkspace(ws: WorkspaceInfo): Promise<void> {
      await mkdir(layout(ws.runId).jobs, { recursive: true });
      if (copyRepo) {
        try {
          await template(ws.runId, ws.repoDir, ws.signal);
        } catch (error) {
          if (error instanceof GantryError) throw error;
          throw new GantryError("EXECUTOR_FAILED", `could not copy the repository ${ws.repoDir}: ${coerceError(error).message}`, {
            cause: error,
          });
        }
      }
    },

    async cleanupWorkspace(ws: WorkspaceInfo): Promise<void> {
      const state = runs.get(ws.runId);
      runs.delete(ws.runId);
      await state?.template?.catch(() => undefined);
      const { workspace, runRoot } = layout(ws.runId);
      await removeTree(workspace);
      // The run's directory goes too once no other executor uses it.
      await rmdir(runRoot).catch(() => undefined);
    },

    async setupJob(job: JobInfo): Promise<void> {
      const dir = jobDir(job);
      // One mkdir in the common case; a leftover of an earlier attempt is removed first.
      try {
        await mkdir(dir);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EEXIST") {
          await removeTree(dir);
          await mkdir(dir);
        } else if (code === "ENOENT") {
          await mkdir(dir, { recursive: true });
        } else {
          throw error;
        }
      }
      if (!copyRepo) return;
      try {
        const manifest = await template(job.runId, job.repoDir, job.signal);
        await copyManifest(manifest, layout(job.runId).template, dir, job.signal);
      } catch (error) {
        if (error instanceof GantryError) throw error;
        throw new GantryError("EXECUTOR_FAILED", `could not copy the repository into ${dir}: ${coerceError(error).message}`, {
          cause: error,
        });
      }
    },

    async exec(job: JobInfo, req: ExecRequest, io: ExecIO): Promise<ExecResult> {
      const dir = await existingJobDir(job);
      let cwd = dir;
      if (req.cwd !== undefined && req.cwd !== "" && req.cwd !== ".") {
        const resolved = await resolveInside(dir, req.cwd, "working directory");
        const info = resolved === undefined ? undefined : await stat(resolved);
        if (resolved === undefined || !info?.isDirectory()) {
          throw new GantryError("EXECUTOR_FAILED", `working directory ${JSON.stringify(req.cwd)} does not exist in the job directory`);
        }
        cwd = resolved;
      }
      return spawnTree({
        ...(req.script !== undefined ? { script: req.script } : {}),
        ...(req.argv !== undefined ? { argv: req.argv } : {}),
        ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
        cwd,
        env: req.env,
        signal: req.signal,
        killGraceMs: req.killGraceMs ?? options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
        onStdout: (chunk) => io.stdout(chunk),
        onStderr: (chunk) => io.stderr(chunk),
      });
    },

    async readFiles(job: JobInfo, path: string): Promise<Readable> {
      const dir = await existingJobDir(job);
      if ((await resolveInside(dir, path, "artifact path")) === undefined) {
        throw new GantryError(
          "ARTIFACT_INVALID",
          `artifact path ${JSON.stringify(path)} does not exist in the job directory of ${JSON.stringify(job.job.id)}`,
        );
      }
      return packPath(dir, path);
    },

    async writeFiles(job: JobInfo, path: string, tar: Readable): Promise<void> {
      let dir: string;
      try {
        dir = await existingJobDir(job);
      } catch (error) {
        tar.destroy();
        throw error;
      }
      await extractTar(tar, dir, path);
    },

    async cleanupJob(job: JobInfo): Promise<void> {
      await removeTree(jobDir(job));
    },

    localJobDir(job: JobInfo): string {
      return jobDir(job);
    },
  };
}
