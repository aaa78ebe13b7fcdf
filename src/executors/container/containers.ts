/**
 * Container life cycle over the Engine API: create + start with the idle
 * init process, prepare the control and jobs directories, find the user's
 * uid/gid, and remove containers and volumes by label (idempotent).
 */
import { hostname } from "node:os";
import type Docker from "dockerode";
import { GantryError } from "../../core/errors.js";
import { CONTROL_DIR, labelFilters, labelsMatch, toCreateOptions } from "./convert.js";
import type { CreateInput } from "./convert.js";
import type { Engine } from "./engine.js";
import { apiMessage, describeEngine, statusOf } from "./engine.js";
import { execCollect } from "./exec.js";

/** `<host>:<pid>` of this process, the value of the `gantry.owner` label. */
export function ownerLabel(): string {
  return `${hostname()}:${process.pid}`;
}

export interface StartedContainer {
  readonly container: Docker.Container;
  readonly uid: number;
  readonly gid: number;
}

function noShell(message: string): boolean {
  return /\/bin\/sh/.test(message) && /(no such file|not found|not exist)/i.test(message);
}

const INIT_SCRIPT = `mkdir -p ${CONTROL_DIR} && chmod 1777 ${CONTROL_DIR} && if [ -n "$1" ]; then mkdir -p "$1/jobs" && chmod 1777 "$1/jobs"; fi`;

/** Create and start a container, then make its control and jobs directories. Removes it again when that fails. */
export async function startContainer(
  engine: Engine,
  input: CreateInput,
  workspaceRoot: string | undefined,
  signal: AbortSignal,
): Promise<StartedContainer> {
  let container: Docker.Container | undefined;
  try {
    container = await engine.docker.createContainer({ ...(toCreateOptions(input) as Docker.ContainerCreateOptions), abortSignal: signal });
    if (signal.aborted) throw new GantryError("CANCELLED", "cancelled while starting the container");
    try {
      await container.start({ abortSignal: signal } as object);
    } catch (error) {
      const message = apiMessage(error);
      if (noShell(message)) {
        throw new GantryError(
          "EXECUTOR_FAILED",
          `image ${input.image} has no /bin/sh; the container executor runs every step through a POSIX shell, so use an image with one (e.g. a -slim or busybox-based variant)`,
        );
      }
      throw error;
    }
    const init = await execCollect(container, { Cmd: ["/bin/sh", "-c", INIT_SCRIPT, "gantry", workspaceRoot ?? ""], User: "0" }, signal);
    if (init.exitCode !== 0)
      throw new GantryError(
        "EXECUTOR_FAILED",
        `could not prepare ${workspaceRoot ?? "/.gantry"} in ${input.image}: ${(init.stderr || init.stdout).trim()}`,
      );
    let uid = 0;
    let gid = 0;
    if (input.user !== undefined) {
      const ids = await execCollect(container, { Cmd: ["/bin/sh", "-c", "id -u; id -g"], User: input.user }, signal);
      const [u, g] = ids.stdout.trim().split("\n").map(Number);
      if (ids.exitCode !== 0 || u === undefined || g === undefined || Number.isNaN(u) || Number.isNaN(g)) {
        throw new GantryError(
          "EXECUTOR_FAILED",
          `user ${JSON.stringify(input.user)} does not work in ${input.image}: ${(ids.stderr || ids.stdout).trim()}`,
        );
      }
      uid = u;
      gid = g;
    }
    return { container, uid, gid };
  } catch (error) {
    if (container) await container.remove({ force: true, v: false }).catch(() => undefined);
    if (error instanceof GantryError) throw error;
    if (signal.aborted) throw new GantryError("CANCELLED", `cancelled while starting a container of ${input.image}`);
    throw new GantryError(
      "EXECUTOR_FAILED",
      `could not start a container of ${input.image} on ${describeEngine(engine)}: ${apiMessage(error)}`,
      { cause: error, retryable: true },
    );
  }
}

export async function createVolume(engine: Engine, name: string, labels: Record<string, string>): Promise<void> {
  try {
    await engine.docker.createVolume({ Name: name, Labels: labels });
  } catch (error) {
    throw new GantryError("EXECUTOR_FAILED", `could not create volume ${name} on ${describeEngine(engine)}: ${apiMessage(error)}`, {
      cause: error,
      retryable: true,
    });
  }
}

/** Remove one container; a missing one is fine. */
export async function removeContainer(engine: Engine, id: string): Promise<void> {
  try {
    await engine.docker.getContainer(id).remove({ force: true, v: false });
  } catch (error) {
    const status = statusOf(error);
    if (status === 404 || (status === 409 && /already in progress/i.test(apiMessage(error)))) return;
    throw new GantryError("EXECUTOR_FAILED", `could not remove container ${id.slice(0, 12)}: ${apiMessage(error)}`, {
      cause: error,
      retryable: true,
    });
  }
}

/** Remove every container (and, with `volumes`, every volume) carrying the given labels. */
export async function removeLabelled(
  engine: Engine,
  filter: { runId?: string; executor?: string; jobId?: string; role?: string },
  volumes: boolean,
): Promise<number> {
  const containers = (await engine.docker.listContainers({ all: true, filters: labelFilters(filter) })).filter((c) =>
    labelsMatch(c.Labels, filter),
  );
  await Promise.all(containers.map((c) => removeContainer(engine, c.Id)));
  let removed = containers.length;
  if (volumes) {
    const list = await engine.docker.listVolumes({ filters: labelFilters(filter) });
    for (const v of (list.Volumes ?? []).filter((v) => labelsMatch(v.Labels as Record<string, string> | undefined, filter))) {
      try {
        await engine.docker.getVolume(v.Name).remove();
        removed++;
      } catch (error) {
        if (statusOf(error) !== 404)
          throw new GantryError("EXECUTOR_FAILED", `could not remove volume ${v.Name}: ${apiMessage(error)}`, {
            cause: error,
            retryable: true,
          });
      }
    }
  }
  return removed;
}
