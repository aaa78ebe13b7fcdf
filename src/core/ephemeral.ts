/**
 * Ephemeral containers: `ctx.container(image, fn)` in a TypeScript step and
 * the `container:` option of a `sh` step run processes in a throw-away
 * container of another image that shares the job's workspace.
 *
 * Who provides them:
 * - an executor whose jobs live in containers implements `ephemeral` (the
 *   container executor: the new container mounts the same workspace volume
 *   and starts in the job directory);
 * - for jobs whose directory is on the runner's disk (`localJobDir`), the
 *   engine is given a `ContainerRuntime` that bind-mounts that directory at
 *   `/workspace`.
 *
 * Call order: `open`, then `exec`* (possibly several at once), then `close`
 * exactly once, always (also when a callback threw or the signal fired).
 * `close` is idempotent and gets no run signal: it must remove the container.
 */
import type { ExecIO, ExecRequest, ExecResult, Executor, JobInfo } from "./executor.js";

export interface EphemeralContainer {
  /** The image it runs. */
  readonly image: string;
  /** Like `Executor.exec`; `cwd` is relative to the job directory. */
  exec(req: ExecRequest, io: ExecIO): Promise<ExecResult>;
  /** Remove the container. Idempotent. */
  close(): Promise<void>;
}

/** An executor that can start ephemeral containers next to its jobs. */
export interface EphemeralCapable {
  ephemeral(job: JobInfo, image: string, signal: AbortSignal): Promise<EphemeralContainer>;
}

/** Starts ephemeral containers for jobs whose directory is on the runner's disk. */
export interface ContainerRuntime {
  ephemeral(job: JobInfo, image: string, hostDir: string, signal: AbortSignal): Promise<EphemeralContainer>;
}

export function canRunEphemeral(executor: Executor): executor is Executor & EphemeralCapable {
  return typeof (executor as Partial<EphemeralCapable>).ephemeral === "function";
}
