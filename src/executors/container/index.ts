/**
 * The container executor: jobs in Docker or Podman containers over the
 * Docker Engine API (dockerode; Podman through its compatible socket).
 *
 * Layout in the container (`workdir`, default `/workspace`):
 *
 *   <workdir>                 a labelled volume per run and executor (or a runner directory with mount: "bind")
 *   <workdir>/jobs/<job>      one directory per job (`convert.jobDir`)
 *   /.gantry                  exec bookkeeping: process group files, stdin
 *
 * Modes: `shared` (default) starts one container in `setupWorkspace` and
 * every job execs in it; `isolated` starts a container per job in
 * `setupJob` (removed in `cleanupJob`). Both mount the workspace volume, so
 * ephemeral containers (`ephemeral`) can share a job's files. Everything
 * carries the labels gantry.run, gantry.executor, gantry.job (per job),
 * gantry.role and gantry.owner; cleanup finds things by label, so it works
 * after a failed or missing setup, and `gantry doctor --prune` after a crash.
 * Env goes per exec only: never into the create config or the labels.
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { createReadStream } from "node:fs";
import { lstat, readlink } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import type { EphemeralCapable, EphemeralContainer } from "../../core/ephemeral.js";
import { GantryError } from "../../core/errors.js";
import type { ExecIO, ExecRequest, ExecResult, Executor, JobInfo, WorkspaceInfo } from "../../core/executor.js";
import type { PlanExecutor } from "../../core/plan-types.js";
import { listRepo } from "../shared/repo-copy.js";
import type { RepoManifest } from "../shared/repo-copy.js";
import { jailedRelative } from "../shared/jail.js";
import { DEFAULT_KILL_GRACE_MS } from "../shared/process.js";
import { containerOptions, jobDir, labelsFor, objectName } from "./convert.js";
import type { ContainerOptions, WorkspaceMount } from "./convert.js";
import { createVolume, ownerLabel, removeContainer, removeLabelled, startContainer } from "./containers.js";
import type { StartedContainer } from "./containers.js";
import { connectEngine } from "./engine.js";
import type { Engine } from "./engine.js";
import { execCollect, runInContainer } from "./exec.js";
import { ephemeralHandle } from "./ephemeral.js";
import { readFilesFrom, tarOf, writeFilesTo } from "./files.js";
import type { FileTarget } from "./files.js";
import { ensureImage, ensureNamedImage } from "./images.js";

export { containerOptions, jobDir, jobDirName, labelsFor, toCreateOptions, toExecOptions, WRAPPER_SCRIPT, KILL_SCRIPT } from "./convert.js";
export type { ContainerOptions, CreateInput } from "./convert.js";
export { connectEngine, engineCandidates, probeEngines, describeEngine } from "./engine.js";
export type { Engine, EngineCandidate, EngineKind, EngineProbe } from "./engine.js";
export { createContainerRuntime } from "./runtime.js";
export type { ContainerRuntimeOptions } from "./runtime.js";
export { ephemeralHandle } from "./ephemeral.js";
export { pruneContainers } from "./prune.js";
export type { PruneResult } from "./prune.js";

export interface ContainerExecutorConfig {
  /** Time between SIGTERM and SIGKILL when a request does not say (default 10 s). */
  readonly killGraceMs?: number;
  /** Environment for engine discovery (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ContainerExecutor extends Executor, EphemeralCapable {
  readonly options: ContainerOptions;
}

interface WorkspaceState {
  readonly engine: Engine;
  readonly image: string;
  readonly mount: WorkspaceMount;
  readonly bindDir?: string;
  readonly repoDir: string;
  /** The shared container (shared mode). */
  readonly shared?: StartedContainer;
  manifest?: Promise<RepoManifest>;
}

interface JobState {
  readonly ws: WorkspaceState;
  readonly started: StartedContainer;
  readonly dir: string;
}

const unique = (): string => randomBytes(4).toString("hex");

/** Stream the repository manifest as a tar (names relative to the repo root). */
function repoTar(manifest: RepoManifest, repoDir: string, uid: number, gid: number): Readable {
  return tarOf(async (pack) => {
    for (const { rel, mode } of manifest.dirs) pack.entry({ name: `${rel}/`, type: "directory", mode: mode & 0o1777, uid, gid });
    for (const rel of manifest.files) {
      const abs = join(repoDir, ...rel.split("/"));
      const stat = await lstat(abs);
      await pipeline(
        createReadStream(abs),
        pack.entry({ name: rel, type: "file", mode: stat.mode & 0o1777, size: stat.size, uid, gid }) as unknown as Writable,
      );
    }
    for (const rel of manifest.symlinks) {
      pack.entry({ name: rel, type: "symlink", linkname: await readlink(join(repoDir, ...rel.split("/"))), mode: 0o777, uid, gid });
    }
  });
}

export function createContainerExecutor(def: PlanExecutor, config: ContainerExecutorConfig = {}): ContainerExecutor {
  const options = containerOptions(def);
  const name = def.name;
  const graceDefault = config.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const workspaces = new Map<string, Promise<WorkspaceState>>();
  const jobs = new Map<string, JobState>();
  const jobKey = (info: JobInfo): string => `${info.runId}\0${info.job.id}`;
  const engine = (): Promise<Engine> => connectEngine(options.engine, config.env);

  const createWorkspace = async (runId: string, repoDir: string, runDir: string, signal: AbortSignal): Promise<WorkspaceState> => {
    const eng = await engine();
    const image = await ensureImage(eng, options.image, options.pull, repoDir, name, signal);
    const owner = ownerLabel();
    let mount: WorkspaceMount;
    let bindDir: string | undefined;
    if (options.mount === "bind") {
      if (!eng.local)
        throw new GantryError(
          "EXECUTOR_FAILED",
          `executor "${name}": mount: "bind" needs an engine on this machine, but ${eng.address} is remote; use mount: "copy"`,
        );
      bindDir = join(runDir, "containers", objectName({ runId, executor: name }, unique()));
      await mkdir(bindDir, { recursive: true });
      mount = { kind: "bind", hostPath: bindDir };
    } else {
      const volume = objectName({ runId, executor: name }, unique());
      await createVolume(eng, volume, labelsFor({ runId, executor: name, role: "volume", owner }));
      mount = { kind: "volume", name: volume };
    }
    let shared: StartedContainer | undefined;
    if (options.mode === "shared") {
      shared = await startContainer(
        eng,
        createInput(runId, undefined, image, mount, options.workdir, "workspace"),
        options.workdir,
        signal,
      );
    }
    return { engine: eng, image, mount, repoDir, ...(bindDir !== undefined ? { bindDir } : {}), ...(shared ? { shared } : {}) };
  };

  const createInput = (
    runId: string,
    jobId: string | undefined,
    image: string,
    mount: WorkspaceMount,
    workingDir: string,
    role: "workspace" | "job" | "ephemeral",
  ) => ({
    name: objectName({ runId, executor: name, ...(jobId !== undefined ? { jobId } : {}) }, unique()),
    image,
    labels: labelsFor({ runId, executor: name, role, owner: ownerLabel(), ...(jobId !== undefined ? { jobId } : {}) }),
    workspace: mount,
    workspaceTarget: options.workdir,
    workingDir,
    mounts: options.mounts.map((m) => ({ ...m, source: isAbsolute(m.source) || !m.source.includes("/") ? m.source : resolve(m.source) })),
    ...(options.user !== undefined ? { user: options.user } : {}),
    ...(options.network !== undefined ? { network: options.network } : {}),
  });

  const workspace = (runId: string, repoDir: string, runDir: string, signal: AbortSignal): Promise<WorkspaceState> => {
    let ws = workspaces.get(runId);
    if (!ws) {
      ws = createWorkspace(runId, repoDir, runDir, signal);
      workspaces.set(runId, ws);
      ws.catch(() => undefined);
    }
    return ws;
  };

  const jobState = (info: JobInfo): JobState => {
    const state = jobs.get(jobKey(info));
    if (!state)
      throw new GantryError(
        "EXECUTOR_FAILED",
        `executor "${name}": job "${info.job.id}" has no container (setupJob did not run or failed)`,
      );
    return state;
  };

  const target = (state: JobState): FileTarget => ({
    container: state.started.container,
    jobDir: state.dir,
    uid: state.started.uid,
    gid: state.started.gid,
    ...(options.user !== undefined ? { user: options.user } : {}),
  });

  const user = options.user !== undefined ? { User: options.user } : {};

  return {
    name,
    options,

    async setupWorkspace(ws: WorkspaceInfo): Promise<void> {
      await workspace(ws.runId, ws.repoDir, ws.runDir, ws.signal);
    },

    async cleanupWorkspace(ws: WorkspaceInfo): Promise<void> {
      const pending = workspaces.get(ws.runId);
      workspaces.delete(ws.runId);
      const state = pending ? await pending.catch(() => undefined) : undefined;
      for (const key of [...jobs.keys()]) if (key.startsWith(`${ws.runId}\0`)) jobs.delete(key);
      const eng = state?.engine ?? (await engine().catch(() => undefined));
      if (!eng) return; // no engine: nothing of ours can exist on it
      if (state?.bindDir !== undefined && state.shared) {
        // Files the container made may belong to its users: remove them from inside first.
        await execCollect(state.shared.container, { Cmd: ["/bin/sh", "-c", `rm -rf "${options.workdir}/jobs"`], User: "0" }).catch(
          () => undefined,
        );
      }
      await removeLabelled(eng, { runId: ws.runId, executor: name }, true);
      if (state?.bindDir !== undefined) await rm(state.bindDir, { recursive: true, force: true }).catch(() => undefined);
    },

    jobPath(info: JobInfo): string | undefined {
      return jobs.get(jobKey(info))?.dir;
    },

    jobLocation(info: JobInfo): string | undefined {
      const state = jobs.get(jobKey(info));
      return state ? `${state.ws.engine.kind} container ${state.started.container.id.slice(0, 12)}` : undefined;
    },

    async setupJob(info: JobInfo): Promise<void> {
      const ws = await workspace(info.runId, info.repoDir, info.runDir, info.signal);
      const dir = jobDir(options.workdir, info.job.id);
      let started = ws.shared;
      // Without a user, the new container's init exec also makes the job directory (one round trip less).
      let fresh = true;
      if (!started) {
        const oneStep = options.user === undefined;
        started = await startContainer(
          ws.engine,
          createInput(info.runId, info.job.id, ws.image, ws.mount, options.workdir, "job"),
          options.workdir,
          info.signal,
          oneStep ? dir : undefined,
        );
        fresh = !oneStep;
      }
      const state: JobState = { ws, started, dir };
      jobs.set(jobKey(info), state);
      if (fresh) {
        const made = await execCollect(
          started.container,
          { Cmd: ["/bin/sh", "-c", 'rm -rf "$1" && mkdir -p "$1"', "gantry", dir], ...user },
          info.signal,
        );
        if (made.exitCode !== 0)
          throw new GantryError("EXECUTOR_FAILED", `could not create the job directory ${dir}: ${(made.stderr || made.stdout).trim()}`, {
            retryable: true,
          });
      }
      if (options.copyRepo) {
        ws.manifest ??= listRepo(ws.repoDir);
        const manifest = await ws.manifest;
        await started.container.putArchive(repoTar(manifest, ws.repoDir, started.uid, started.gid), {
          path: dir,
          abortSignal: info.signal,
        });
      }
    },

    async exec(info: JobInfo, req: ExecRequest, io: ExecIO): Promise<ExecResult> {
      const state = jobState(info);
      const cwd = jailedRelative(req.cwd ?? ".", "working directory");
      return runInContainer(
        state.started.container,
        {
          ...(req.script !== undefined ? { script: req.script } : {}),
          ...(req.argv !== undefined ? { argv: req.argv } : {}),
          env: { ...options.env, ...req.env },
          workingDir: cwd === "." ? state.dir : `${state.dir}/${cwd}`,
          signal: req.signal,
          killGraceMs: req.killGraceMs ?? graceDefault,
          ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
          ...(options.user !== undefined ? { user: options.user } : {}),
        },
        io,
      );
    },

    async readFiles(info: JobInfo, path: string): Promise<Readable> {
      return readFilesFrom(target(jobState(info)), path, info.signal.aborted ? undefined : info.signal);
    },

    async writeFiles(info: JobInfo, path: string, tar: Readable): Promise<void> {
      await writeFilesTo(target(jobState(info)), path, tar, info.signal.aborted ? undefined : info.signal);
    },

    async cleanupJob(info: JobInfo): Promise<void> {
      const state = jobs.get(jobKey(info));
      jobs.delete(jobKey(info));
      if (options.mode === "isolated") {
        // Known container: remove it by id; unknown (setup failed half-way, or another process): find it by label.
        if (state) await removeContainer(state.ws.engine, state.started.container.id);
        else {
          const eng = await engine().catch(() => undefined);
          if (eng) await removeLabelled(eng, { runId: info.runId, executor: name, jobId: info.job.id, role: "job" }, false);
        }
        return;
      }
      if (state?.ws.shared) {
        await execCollect(state.ws.shared.container, { Cmd: ["/bin/sh", "-c", 'rm -rf "$1"', "gantry", state.dir], User: "0" }).catch(
          () => undefined,
        );
      }
    },

    async ephemeral(info: JobInfo, image: string, signal: AbortSignal): Promise<EphemeralContainer> {
      const ws = await workspace(info.runId, info.repoDir, info.runDir, signal);
      const dir = jobDir(options.workdir, info.job.id);
      const ref = await ensureNamedImage(ws.engine, image, options.pull, signal);
      const started = await startContainer(
        ws.engine,
        createInput(info.runId, info.job.id, ref, ws.mount, dir, "ephemeral"),
        options.workdir,
        signal,
      );
      return ephemeralHandle(ws.engine, started.container, image, dir, options.user, graceDefault, options.env);
    },
  };
}
