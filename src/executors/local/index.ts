/**
 * The local executor: a directory per job on the runner's disk, processes
 * as child process trees (own process group, SIGTERM then SIGKILL to the
 * whole group on abort, leftovers killed when the main process exits).
 * Layout in `layout.ts`, repository copies in `repo-copy.ts`.
 */
import { tmpdir } from "node:os";
import { mkdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import { randomUUID } from "node:crypto";
import { GantryError, coerceError } from "../../core/errors.js";
import type { ExecIO, ExecRequest, ExecResult, Executor, JobInfo, WorkspaceInfo } from "../../core/executor.js";
import { parseExecutorOptions } from "../../core/executor-kind.js";
import type { PlanExecutor } from "../../core/plan-types.js";
import { JobCgroup, probeCgroups, removeCgroupGroup } from "../shared/cgroup.js";
import { localOptionsSchema } from "./schema.js";
import { resolveInside } from "../shared/jail.js";
import { DEFAULT_KILL_GRACE_MS, spawnTree } from "../shared/process.js";
import { watchdog } from "../shared/supervisor.js";
import { killByEnv } from "../shared/sweep.js";
import { extractTar, packPath } from "../shared/tar-local.js";
import { jobDirName } from "../shared/names.js";
import { localLayout } from "./layout.js";
import type { LocalLayout } from "./layout.js";
import { removeTree } from "./remove.js";
import { acquireRunRoot, releaseRunRoot } from "./run-root.js";
import { copyManifest, listRepo } from "../shared/repo-copy.js";
import type { RepoManifest } from "../shared/repo-copy.js";

export { jobDirName, safeSegment } from "../shared/names.js";
export { localLayout } from "./layout.js";
export type { LocalLayout } from "./layout.js";

/** The environment variable that marks every process of a local job (the sweep without cgroups, `sweep.ts`). */
export const JOB_TOKEN_VAR = "GANTRY_JOB_TOKEN";

export interface LocalExecutorConfig {
  /** Parent of the `gantry-<uid>/` scratch directory (default: `os.tmpdir()`). */
  readonly baseDir?: string;
  /** Time between SIGTERM and SIGKILL when a request does not say (default 10 s). */
  readonly killGraceMs?: number;
  /**
   * A cgroup per job where this process may create them (default); `false`
   * uses the environment sweep instead (`sweep.ts`), as where there are none.
   */
  readonly cgroups?: boolean;
  /**
   * Start processes through the runner's long-lived spawner (default, where
   * it can run: `shared/spawner.ts`); `false` spawns them from the event loop.
   */
  readonly spawner?: boolean;
}

/** The local executor; its job directories are on the runner's disk, so `localJobDir` always answers. */
export interface LocalExecutor extends Executor {
  localJobDir(job: JobInfo): string;
}

interface RunState {
  /** The run's directory (`run-root.ts`) and the executor's layout in it. */
  layout?: Promise<LocalLayout>;
  resolved?: LocalLayout;
  /** The repository snapshot, taken once per workspace (lazily when setupWorkspace was skipped). */
  template?: Promise<RepoManifest>;
}

/** What the executor keeps per set-up job. */
interface JobState {
  readonly dir: string;
  /** Marks the job's processes (the sweep without cgroups). */
  readonly token: string;
  readonly cgroup: JobCgroup | undefined;
}

export function createLocalExecutor(def: PlanExecutor, options: LocalExecutorConfig = {}): LocalExecutor {
  const baseDir = options.baseDir ?? tmpdir();
  const copyRepo = parseExecutorOptions(localOptionsSchema, def).copyRepo !== false;
  const runs = new Map<string, RunState>();
  /** Set-up jobs by run and job id: no `stat` before an exec, the directory name computed once. */
  const jobs = new Map<string, JobState>();
  const jobKey = (job: JobInfo): string => `${job.runId}\0${job.job.id}`;

  const runState = (runId: string): RunState => {
    let state = runs.get(runId);
    if (!state) {
      state = {};
      runs.set(runId, state);
    }
    return state;
  };

  /** The executor's layout in the run's directory, created on first use (`run-root.ts`). */
  const layout = (runId: string): Promise<LocalLayout> => {
    const state = runState(runId);
    if (!state.layout) {
      const promise = (async () => {
        const root = await acquireRunRoot(baseDir, runId);
        watchdog.dir(root, false);
        const resolved = localLayout(root, def.name);
        await mkdir(resolved.jobs, { recursive: true });
        state.resolved = resolved;
        return resolved;
      })();
      state.layout = promise;
      promise.catch(() => {
        if (state.layout === promise) state.layout = undefined;
      });
    }
    return state.layout;
  };

  const template = (runId: string, repoDir: string, signal: AbortSignal): Promise<RepoManifest> => {
    const state = runState(runId);
    if (!state.template) {
      state.template = (async () => {
        const dir = (await layout(runId)).template;
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

  const setUp = (job: JobInfo): JobState => {
    const state = jobs.get(jobKey(job));
    if (!state) {
      throw new GantryError("EXECUTOR_FAILED", `job ${JSON.stringify(job.job.id)} has no job directory; setupJob must run first`);
    }
    return state;
  };

  /** Kill whatever the job left running: its cgroup, or (without cgroups) the processes carrying its token. */
  const sweep = async (state: JobState): Promise<void> => {
    if (state.cgroup) await state.cgroup.destroy();
    else await killByEnv(JOB_TOKEN_VAR, state.token);
  };

  return {
    name: def.name,

    async setupWorkspace(ws: WorkspaceInfo): Promise<void> {
      await layout(ws.runId);
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
      for (const [key, job] of jobs) {
        if (!key.startsWith(`${ws.runId}\0`)) continue;
        jobs.delete(key);
        await sweep(job);
      }
      if (!state?.layout) return;
      await state.template?.catch(() => undefined);
      const resolved = await state.layout.catch(() => undefined);
      if (!resolved) return;
      await removeTree(resolved.workspace);
      // The run's directory goes too once no other executor uses it.
      const removed = await releaseRunRoot(baseDir, ws.runId);
      if (removed === undefined) return;
      watchdog.dir(removed, true);
      await removeCgroupGroup(basename(removed));
    },

    async setupJob(job: JobInfo): Promise<void> {
      const resolved = await layout(job.runId);
      const key = jobKey(job);
      const previous = jobs.get(key);
      if (previous) {
        jobs.delete(key);
        await sweep(previous);
      }
      const dir = join(resolved.jobs, jobDirName(job.job.id));
      // One mkdir in the common case; a leftover of an earlier attempt is removed first.
      try {
        await mkdir(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        await removeTree(dir);
        await mkdir(dir);
      }
      const cgroup =
        options.cgroups !== false && probeCgroups()
          ? await JobCgroup.create(basename(resolved.runRoot), `${basename(dir)}-${job.attempt}`)
          : undefined;
      if (cgroup) watchdog.cgroup(cgroup.path, false);
      jobs.set(key, { dir, token: randomUUID(), cgroup });
      if (!copyRepo) return;
      try {
        const manifest = await template(job.runId, job.repoDir, job.signal);
        await copyManifest(manifest, resolved.template, dir, job.signal);
      } catch (error) {
        if (error instanceof GantryError) throw error;
        throw new GantryError("EXECUTOR_FAILED", `could not copy the repository into ${dir}: ${coerceError(error).message}`, {
          cause: error,
        });
      }
    },

    async exec(job: JobInfo, req: ExecRequest, io: ExecIO): Promise<ExecResult> {
      const state = setUp(job);
      let cwd = state.dir;
      if (req.cwd !== undefined && req.cwd !== "" && req.cwd !== ".") {
        const resolved = await resolveInside(state.dir, req.cwd, "working directory");
        const info = resolved === undefined ? undefined : await stat(resolved);
        if (resolved === undefined || !info?.isDirectory()) {
          throw new GantryError("EXECUTOR_FAILED", `working directory ${JSON.stringify(req.cwd)} does not exist in the job directory`);
        }
        cwd = resolved;
      }
      const cgroup = state.cgroup;
      return spawnTree({
        ...(req.script !== undefined ? { script: req.script } : {}),
        ...(req.argv !== undefined ? { argv: req.argv } : {}),
        ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
        ...(req.force !== undefined ? { force: req.force } : {}),
        ...(cgroup ? { around: <T>(spawn: () => T): T => cgroup.around(spawn), cgroup: cgroup.path } : {}),
        spawner: options.spawner !== false,
        cwd,
        env: cgroup ? req.env : { ...req.env, [JOB_TOKEN_VAR]: state.token },
        signal: req.signal,
        killGraceMs: req.killGraceMs ?? options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
        onStdout: (chunk) => io.stdout(chunk),
        onStderr: (chunk) => io.stderr(chunk),
        onGroup: (pgid, gone) => watchdog.group(pgid, gone),
      });
    },

    async readFiles(job: JobInfo, path: string): Promise<Readable> {
      const dir = setUp(job).dir;
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
        dir = setUp(job).dir;
      } catch (error) {
        tar.destroy();
        throw error;
      }
      await extractTar(tar, dir, path);
    },

    async cleanupJob(job: JobInfo): Promise<void> {
      const key = jobKey(job);
      const state = jobs.get(key);
      if (!state) return;
      jobs.delete(key);
      await sweep(state);
      if (state.cgroup) watchdog.cgroup(state.cgroup.path, true);
      await removeTree(state.dir);
    },

    localJobDir(job: JobInfo): string {
      return setUp(job).dir;
    },
  };
}
