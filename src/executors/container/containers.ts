/**
 * Container life cycle over the Engine API: create + start with the idle
 * init process, prepare the control and jobs directories, find the user's
 * uid/gid, and remove containers and volumes by label (idempotent).
 */
import { hostname } from "node:os";
import type { Readable } from "node:stream";
import type Docker from "dockerode";
import { GantryError } from "../../core/errors.js";
import { INIT_SCRIPT, READY_LINE, labelFilters, labelsMatch, toCreateOptions } from "./convert.js";
import type { CreateInput } from "./convert.js";
import type { Engine } from "./engine.js";
import { apiMessage, describeEngine, statusOf } from "./engine.js";
import { Demuxer, execCollect } from "./exec.js";

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

/** Create and start a container, then make its control and jobs directories. Removes it again when that fails. */
export async function startContainer(
  engine: Engine,
  input: CreateInput,
  workspaceRoot: string | undefined,
  signal: AbortSignal,
  freshDir?: string,
): Promise<StartedContainer> {
  let container: Docker.Container | undefined;
  // Without a user, the init process (root) prepares the directories itself and says so on its output:
  // one attach (made before the start) instead of an exec round trip after it.
  const selfInit = input.user === undefined;
  const init = { root: workspaceRoot ?? "", fresh: freshDir ?? "" };
  try {
    container = await engine.docker.createContainer({
      ...(toCreateOptions(selfInit ? { ...input, init } : input) as Docker.ContainerCreateOptions),
      abortSignal: signal,
    });
    if (signal.aborted) throw new GantryError("CANCELLED", "cancelled while starting the container");
    const ready = selfInit ? await waitReady(container) : undefined;
    await container.start({ abortSignal: signal } as object);
    const failure = ready
      ? await ready.promise
      : await execCollect(container, { Cmd: ["/bin/sh", "-c", INIT_SCRIPT, "gantry", init.root, init.fresh], User: "0" }, signal).then(
          (r) => (r.exitCode === 0 ? undefined : (r.stderr || r.stdout).trim()),
        );
    if (failure !== undefined) {
      throw new GantryError("EXECUTOR_FAILED", `could not prepare ${workspaceRoot ?? "/.gantry"} in ${input.image}: ${failure}`);
    }
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
    if (noShell(apiMessage(error))) {
      throw new GantryError(
        "EXECUTOR_FAILED",
        `image ${input.image} has no /bin/sh; the container executor runs every step through a POSIX shell, so use an image with one (e.g. a -slim or busybox-based variant)`,
      );
    }
    throw new GantryError(
      "EXECUTOR_FAILED",
      `could not start a container of ${input.image} on ${describeEngine(engine)}: ${apiMessage(error)}`,
      { cause: error, retryable: true },
    );
  }
}

/** Attach to a created container's output; resolves `undefined` once it prints the ready line, else its output when it ends. */
async function waitReady(container: Docker.Container): Promise<{ promise: Promise<string | undefined> }> {
  const stream = (await container.attach({ stream: true, stdout: true, stderr: true, hijack: true })) as unknown as Readable;
  let out = "";
  const promise = new Promise<string | undefined>((resolve) => {
    const demux = new Demuxer(
      (c) => {
        out += c.toString("utf8");
        if (out.includes(READY_LINE)) {
          resolve(undefined);
          stream.destroy();
        }
      },
      (c) => (out += c.toString("utf8")),
    );
    stream.on("data", (c: Buffer) => demux.push(c));
    const end = (): void => resolve(out.includes(READY_LINE) ? undefined : out.trim() || "the container's init process ended");
    stream.on("end", end);
    stream.on("close", end);
    stream.on("error", end);
  });
  return { promise };
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
