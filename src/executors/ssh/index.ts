/**
 * The SSH executor: jobs run on remote hosts over ssh2.
 *
 * Modes: `shared` (one connection per host for the whole run, channels
 * multiplexed), `dedicated` (a connection per job, closed at cleanupJob),
 * `pool` (each job goes to the healthy host with the fewest running jobs,
 * up to `maxJobsPerHost`; hosts that fail the health check or lose their
 * connection are skipped for a while). With several hosts, shared and
 * dedicated also spread jobs by load, without health checks.
 *
 * On each host:
 *
 *   <workspaceDir>/<runId>/<executor>/repo-<id>    the repository (copyRepo), uploaded once per host
 *   <workspaceDir>/<runId>/<executor>/jobs/<job>   one directory per job
 *
 * Processes: see `command.ts` (wrapper, env over stdin, process groups) and
 * `exec.ts`. Files: `files.ts`. Host keys and credentials: `connection.ts`.
 */
import { randomUUID } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { homedir, userInfo } from "node:os";
import { join, posix } from "node:path";
import type { Readable } from "node:stream";
import { GantryError, coerceError } from "../../core/errors.js";
import type { ExecIO, ExecRequest, ExecResult, Executor, JobInfo, WorkspaceInfo } from "../../core/executor.js";
import type { PlanExecutor } from "../../core/plan-types.js";
import { jailedRelative } from "../shared/jail.js";
import { DEFAULT_KILL_GRACE_MS } from "../shared/process.js";
import { jobDirName, safeSegment } from "../shared/names.js";
import { listRepo } from "../shared/repo-copy.js";
import { EXIT_NO_TAR, TAG_VAR, extractCommand, freshDirCommand, killTaggedCommand, removeCommand, shQuote } from "./command.js";
import { parseSshConfig } from "./config.js";
import type { SshConfigBlock } from "./config.js";
import { SshConnection } from "./connection.js";
import { noTarError, remoteCommandError } from "./errors.js";
import { runRemote } from "./exec.js";
import { packRepo, readRemote, writeRemote } from "./files.js";
import { HostPool } from "./host-pool.js";
import type { HostState } from "./host-pool.js";
import { resolveSshOptions, resolveTarget, targetLocation } from "./options.js";
import type { HostTarget, ResolvedSshOptions, SshMode } from "./options.js";

export { parseSshConfig, lookupHost, parseHostSpec, matchPattern } from "./config.js";
export { pickHost, unhealthyBackoffMs } from "./pool.js";
export type { HostHealth, PickResult } from "./pool.js";
export { checkHostKey, fingerprint, knownHostName, knownHostsLine, parseKnownHosts } from "./known-hosts.js";
export { resolveSshOptions, resolveTarget, targetLocation } from "./options.js";
export type { HostTarget, ResolvedSshOptions, SshMode } from "./options.js";

export interface SshExecutorConfig {
  /** OpenSSH client config to read host aliases from (default `~/.ssh/config`; missing is fine). */
  readonly sshConfigFile?: string;
  /** Home directory for `~` in paths (default `os.homedir()`). */
  readonly home?: string;
  /** Default remote user when neither the options nor the config name one (default: the local user). */
  readonly localUser?: string;
  /** Agent socket used when `agent` is `true` (default `SSH_AUTH_SOCK`). */
  readonly authSock?: string;
  /** Time between SIGTERM and SIGKILL when a request does not say (default 10 s). */
  readonly killGraceMs?: number;
  /** Told which host a job runs on, when `setupJob` chose it (for logs: "running on host X"). */
  readonly onHost?: (job: JobInfo, host: string) => void;
  /** Clock for health-check back-off (tests). */
  readonly now?: () => number;
}

/** The SSH executor, plus which host runs each job. */
export interface SshExecutor extends Executor {
  readonly mode: SshMode;
  /** The host (as written in the options) of the job's current or last attempt. */
  hostOf(job: JobInfo | string): string | undefined;
}

interface JobState {
  readonly host: HostState;
  /** Dedicated mode: the job's own connection. */
  conn?: SshConnection;
  readonly dir: string;
  /** `dir` as an absolute path on the host, once the directory is made. */
  absoluteDir?: string;
  /** Marks the job's processes on the host (`GANTRY_SSH_TAG`), so cleanup finds what escaped its process group. */
  readonly tag: string;
}

interface RunState {
  /** Remote `<workspaceDir>/<runId>/<executor>`. */
  readonly root: string;
  readonly runDir: string;
  repoDir?: string;
  runLocalDir?: string;
  /** The repository packed on the runner, once per run. */
  repoTar?: Promise<string>;
  /** The repository unpacked on each host, once per host: its remote directory. */
  readonly repoOn: Map<string, Promise<string>>;
  readonly hostsUsed: Set<string>;
}

const CLEANUP_GRACE_MS = 2_000;

function readConfig(file: string): SshConfigBlock[] {
  try {
    return parseSshConfig(readFileSync(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new GantryError("EXECUTOR_FAILED", `cannot read ssh config ${file}: ${coerceError(error).message}`);
  }
}

/** Errors that say the host (or the way to it) is gone, rather than something about the job. */
function isHostFault(error: unknown): boolean {
  return error instanceof GantryError && error.code === "EXECUTOR_FAILED" && error.retryable;
}

export function createSshExecutor(def: PlanExecutor, deps: SshExecutorConfig = {}): SshExecutor {
  const home = deps.home ?? homedir();
  const options: ResolvedSshOptions = resolveSshOptions(def.name, def.options, home);
  const config = readConfig(deps.sshConfigFile ?? join(home, ".ssh", "config"));
  const local = {
    home,
    localUser: deps.localUser ?? userInfo().username,
    ...((deps.authSock ?? process.env.SSH_AUTH_SOCK) !== undefined && { authSock: deps.authSock ?? process.env.SSH_AUTH_SOCK }),
  };
  const targets: HostTarget[] = options.hosts.map((spec) => resolveTarget(spec, options, config, local));
  const connect = (target: HostTarget): Promise<SshConnection> =>
    SshConnection.connect({
      target,
      knownHosts: options.knownHosts,
      hostKeyPolicy: options.hostKeyPolicy,
      connectTimeoutMs: options.connectTimeoutMs,
      keepaliveMs: options.keepaliveMs,
    });
  const pool = new HostPool(targets, {
    executorName: def.name,
    mode: options.mode,
    connect,
    now: deps.now ?? Date.now,
    ...(options.maxJobsPerHost !== undefined && { maxJobsPerHost: options.maxJobsPerHost }),
  });
  const runs = new Map<string, RunState>();
  const jobs = new Map<string, JobState>();
  const hostOfJob = new Map<string, string>();
  const jobKey = (job: JobInfo): string => `${job.runId}\0${job.job.id}`;

  const runState = (runId: string, runDir: string): RunState => {
    let run = runs.get(runId);
    if (!run) {
      run = {
        root: posix.join(options.workspaceDir, safeSegment(runId), safeSegment(def.name)),
        runDir,
        repoOn: new Map(),
        hostsUsed: new Set(),
      };
      runs.set(runId, run);
    }
    return run;
  };

  const jobState = (job: JobInfo): JobState => {
    const state = jobs.get(jobKey(job));
    if (!state) throw new GantryError("EXECUTOR_FAILED", `job ${JSON.stringify(job.job.id)} has no host: setupJob must run first`);
    return state;
  };

  const connectionOf = async (state: JobState): Promise<SshConnection> => {
    if (state.conn) {
      if (state.conn.closed)
        throw (
          state.conn.error ??
          new GantryError("EXECUTOR_FAILED", `ssh host ${state.host.target.label}: connection closed`, { retryable: true })
        );
      return state.conn;
    }
    return pool.shared(state.host);
  };

  /** Run `fn` on the job's connection; a host fault marks the host unhealthy (pool mode). */
  const onHost = async <T>(state: JobState, fn: (conn: SshConnection) => Promise<T>): Promise<T> => {
    try {
      return await fn(await connectionOf(state));
    } catch (error) {
      if (isHostFault(error)) pool.markUnhealthy(state.host, error);
      throw error;
    }
  };

  const packedRepo = (run: RunState): Promise<string> => {
    if (!run.repoTar) {
      const repoDir = run.repoDir;
      if (repoDir === undefined) throw new GantryError("INTERNAL", "the repository directory is not known");
      const file = join(run.runLocalDir ?? run.runDir, `ssh-${safeSegment(def.name)}-${randomUUID().slice(0, 8)}-repo.tar`);
      const packing = (async () => {
        await mkdir(run.runLocalDir ?? run.runDir, { recursive: true });
        await packRepo(repoDir, await listRepo(repoDir), file);
        return file;
      })();
      packing.catch(() => {
        if (run.repoTar === packing) run.repoTar = undefined;
      });
      run.repoTar = packing;
    }
    return run.repoTar;
  };

  const repoOnHost = (run: RunState, host: HostState, conn: SshConnection): Promise<string> => {
    let uploading = run.repoOn.get(host.target.label);
    if (!uploading) {
      uploading = (async () => {
        const tar = await packedRepo(run);
        // A directory per upload: hosts that share a file system (NFS homes) do not overwrite each other's copy.
        const repo = posix.join(run.root, `repo-${randomUUID().slice(0, 8)}`);
        await conn.run(`mkdir -p -- ${shQuote(repo)}`);
        const result = await conn.run(extractCommand(repo, ".", "extract"), { stdin: createReadStream(tar) });
        if (result.code === EXIT_NO_TAR) throw noTarError(conn.target);
        if (result.code !== 0) throw remoteCommandError(conn.target, "copying the repository", result.stderr, result.code);
        return repo;
      })();
      const current = uploading;
      current.catch(() => {
        if (run.repoOn.get(host.target.label) === current) run.repoOn.delete(host.target.label);
      });
      run.repoOn.set(host.target.label, current);
    }
    return uploading;
  };

  const executor: SshExecutor = {
    name: def.name,
    mode: options.mode,

    hostOf(job: JobInfo | string): string | undefined {
      if (typeof job === "string") {
        for (const [key, host] of hostOfJob) if (key.endsWith(`\0${job}`)) return host;
        return undefined;
      }
      return hostOfJob.get(jobKey(job));
    },

    jobLocation(job: JobInfo): string | undefined {
      const state = jobs.get(jobKey(job));
      return state ? targetLocation(state.host.target) : undefined;
    },

    jobPath(job: JobInfo): string | undefined {
      return jobs.get(jobKey(job))?.absoluteDir;
    },

    async setupWorkspace(ws: WorkspaceInfo): Promise<void> {
      const run = runState(ws.runId, ws.runDir);
      run.repoDir = ws.repoDir;
      run.runLocalDir = ws.runDir;
      if (options.mode === "shared") {
        // Connect now: a wrong host key or credential fails the run before any job starts.
        const results = await Promise.allSettled([...pool.hosts.values()].map((host) => pool.shared(host)));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed && results.every((r) => r.status === "rejected")) throw failed.reason;
      }
      if (options.copyRepo) await packedRepo(run);
    },

    async cleanupWorkspace(ws: WorkspaceInfo): Promise<void> {
      const run = runs.get(ws.runId);
      if (!run) return;
      runs.delete(ws.runId);
      const errors: string[] = [];
      for (const label of run.hostsUsed) {
        const host = pool.hosts.get(label);
        if (!host || pool.isDown(host)) continue;
        try {
          const conn = options.mode === "dedicated" ? await connect(host.target) : await pool.shared(host);
          try {
            const parent = posix.dirname(run.root);
            const result = await conn.run(`${removeCommand(run.root)} && { rmdir -- ${shQuote(parent)} 2>/dev/null; true; }`, {
              control: true,
            });
            if (result.code !== 0) errors.push(remoteCommandError(host.target, `removing ${run.root}`, result.stderr, result.code).message);
          } finally {
            if (options.mode === "dedicated") conn.close();
          }
        } catch (error) {
          if (!isHostFault(error)) errors.push(coerceError(error).message);
        }
      }
      const tar = await run.repoTar?.catch(() => undefined);
      if (tar) await rm(tar, { force: true });
      if (runs.size === 0) await pool.closeAll();
      if (errors.length > 0) throw new GantryError("EXECUTOR_FAILED", errors.join("; "));
    },

    async setupJob(job: JobInfo): Promise<void> {
      const run = runState(job.runId, job.runDir);
      run.repoDir ??= job.repoDir;
      const previous = jobs.get(jobKey(job));
      if (previous) await executor.cleanupJob(job);
      const host = await pool.acquire(job.signal);
      const state: JobState = { host, dir: posix.join(run.root, "jobs", jobDirName(job.job.id)), tag: randomUUID() };
      jobs.set(jobKey(job), state);
      hostOfJob.set(jobKey(job), host.target.label);
      deps.onHost?.(job, host.target.label);
      run.hostsUsed.add(host.target.label);
      if (options.mode === "dedicated") state.conn = await connect(host.target);
      await onHost(state, async (conn) => {
        const repo = options.copyRepo ? await repoOnHost(run, host, conn) : undefined;
        const result = await conn.run(freshDirCommand(state.dir, repo));
        if (result.code !== 0) throw remoteCommandError(host.target, `creating the job directory ${state.dir}`, result.stderr, result.code);
        const printed = result.stdout.toString("utf8").trim().split("\n").pop();
        if (printed?.startsWith("/")) state.absoluteDir = printed;
      }).catch((error: unknown) => {
        throw error instanceof GantryError
          ? error
          : new GantryError("EXECUTOR_FAILED", `ssh host ${host.target.label}: setting up the job failed: ${coerceError(error).message}`, {
              cause: error,
              retryable: true,
            });
      });
    },

    async exec(job: JobInfo, req: ExecRequest, io: ExecIO): Promise<ExecResult> {
      const state = jobState(job);
      const cwd = req.cwd === undefined || req.cwd === "" ? "." : jailedRelative(req.cwd, "working directory");
      return onHost(state, (conn) =>
        runRemote(
          conn,
          {
            // Relative to the job directory, which the wrapper enters first: with a relative workspaceDir,
            // `state.dir` is relative to the login directory and would not resolve from inside the job's.
            dir: cwd,
            jobDir: state.dir,
            env: { ...req.env, [TAG_VAR]: state.tag },
            signal: req.signal,
            killGraceMs: req.killGraceMs ?? deps.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
            ...(req.script !== undefined && { script: req.script }),
            ...(req.argv !== undefined && { argv: req.argv }),
            ...(req.stdin !== undefined && { stdin: req.stdin }),
          },
          io,
        ),
      );
    },

    async readFiles(job: JobInfo, path: string): Promise<Readable> {
      const state = jobState(job);
      return onHost(state, (conn) => readRemote(conn, state.dir, path));
    },

    async writeFiles(job: JobInfo, path: string, tar: Readable): Promise<void> {
      let state: JobState;
      try {
        state = jobState(job);
      } catch (error) {
        tar.destroy();
        throw error;
      }
      const spoolDir = runs.get(job.runId)?.runLocalDir ?? job.runDir;
      await onHost(state, (conn) => writeRemote(conn, state.dir, path, tar, spoolDir));
    },

    async cleanupJob(job: JobInfo): Promise<void> {
      const state = jobs.get(jobKey(job));
      if (!state) return;
      jobs.delete(jobKey(job));
      try {
        if (pool.isDown(state.host) && !state.conn) return;
        const conn = await connectionOf(state);
        // Processes that escaped their group (setsid, daemons) end with the job; then the directory goes.
        const result = await conn.run(`${killTaggedCommand(state.tag, CLEANUP_GRACE_MS)}; ${removeCommand(state.dir)}`, { control: true });
        if (result.code !== 0)
          throw remoteCommandError(state.host.target, `removing the job directory ${state.dir}`, result.stderr, result.code);
      } catch (error) {
        // A host that is gone cannot be cleaned; cleanupWorkspace tries again if it comes back.
        if (!isHostFault(error)) throw error;
      } finally {
        state.conn?.close();
        pool.release(state.host);
      }
    },
  };
  return executor;
}
