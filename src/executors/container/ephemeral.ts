/** The `EphemeralContainer` handle over a started container. */
import type Docker from "dockerode";
import type { EphemeralContainer } from "../../core/ephemeral.js";
import type { ExecIO, ExecRequest, ExecResult } from "../../core/executor.js";
import { jailedRelative } from "../shared/jail.js";
import type { Engine } from "./engine.js";
import { runInContainer } from "./exec.js";

/** An `EphemeralContainer` over a started container whose job directory is `dir`. */
export function ephemeralHandle(
  engine: Engine,
  container: Docker.Container,
  image: string,
  dir: string,
  user: string | undefined,
  graceMs: number,
  baseEnv: Readonly<Record<string, string>> = {},
): EphemeralContainer {
  let closed: Promise<void> | undefined;
  return {
    image,
    exec(req: ExecRequest, io: ExecIO): Promise<ExecResult> {
      const cwd = jailedRelative(req.cwd ?? ".", "working directory");
      return runInContainer(
        container,
        {
          ...(req.script !== undefined ? { script: req.script } : {}),
          ...(req.argv !== undefined ? { argv: req.argv } : {}),
          env: { ...baseEnv, ...req.env },
          workingDir: cwd === "." ? dir : `${dir}/${cwd}`,
          signal: req.signal,
          killGraceMs: req.killGraceMs ?? graceMs,
          ...(req.stdin !== undefined ? { stdin: req.stdin } : {}),
          ...(user !== undefined ? { user } : {}),
        },
        io,
      );
    },
    close(): Promise<void> {
      closed ??= engine.docker
        .getContainer(container.id)
        .remove({ force: true, v: false })
        .catch((error: unknown) => {
          if ((error as { statusCode?: number }).statusCode !== 404) throw error;
        });
      return closed;
    },
  };
}
