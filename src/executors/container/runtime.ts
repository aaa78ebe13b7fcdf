/**
 * Ephemeral containers for jobs whose directory is on the runner's disk
 * (the local executor): the job directory is bind-mounted at `/workspace`,
 * so this needs an engine on the same machine.
 */
import type { ContainerRuntime, EphemeralContainer } from "../../core/ephemeral.js";
import { GantryError } from "../../core/errors.js";
import type { JobInfo } from "../../core/executor.js";
import { DEFAULT_KILL_GRACE_MS } from "../shared/process.js";
import type { PullPolicy } from "./convert.js";
import { labelsFor, objectName } from "./convert.js";
import { ownerLabel, startContainer } from "./containers.js";
import { connectEngine } from "./engine.js";
import { ensureNamedImage } from "./images.js";
import { ephemeralHandle } from "./ephemeral.js";

export interface ContainerRuntimeOptions {
  /** Engine option (see `engine.ts`); default: discovery. */
  readonly engine?: string;
  readonly pull?: PullPolicy;
  readonly killGraceMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

const WORKSPACE = "/workspace";

/** `GANTRY_WORKSPACE` points at the mount; `GANTRY_REPO` (a runner path) is not in the container. */
function inContainer(env: Readonly<Record<string, string>>): Record<string, string> {
  const { GANTRY_REPO: _repo, ...rest } = env;
  return "GANTRY_WORKSPACE" in rest ? { ...rest, GANTRY_WORKSPACE: WORKSPACE } : rest;
}

export function createContainerRuntime(options: ContainerRuntimeOptions = {}): ContainerRuntime {
  return {
    async ephemeral(job: JobInfo, image: string, hostDir: string, signal: AbortSignal): Promise<EphemeralContainer> {
      const engine = await connectEngine(options.engine, options.env);
      if (!engine.local) {
        throw new GantryError(
          "EXECUTOR_FAILED",
          `an ephemeral container of ${image} for local job "${job.job.id}" needs the job directory bind-mounted, but the engine at ${engine.address} is remote; run the job on a container executor instead`,
        );
      }
      const ref = await ensureNamedImage(engine, image, options.pull ?? "missing", signal);
      const started = await startContainer(
        engine,
        {
          name: objectName({ runId: job.runId, executor: "ephemeral", jobId: job.job.id }, Math.random().toString(16).slice(2, 10)),
          image: ref,
          labels: labelsFor({ runId: job.runId, executor: job.job.executor, jobId: job.job.id, role: "ephemeral", owner: ownerLabel() }),
          workspace: { kind: "bind", hostPath: hostDir },
          workspaceTarget: WORKSPACE,
          workingDir: WORKSPACE,
          mounts: [],
        },
        undefined,
        signal,
      );
      const handle = ephemeralHandle(engine, started.container, image, WORKSPACE, undefined, options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
      return {
        image,
        // Paths of the runner mean nothing in the container: the job directory is /workspace there.
        exec: (req, io) => handle.exec({ ...req, env: inContainer(req.env) }, io),
        close: () => handle.close(),
      };
    },
  };
}
