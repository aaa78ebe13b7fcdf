/**
 * One process on the host: the wrapper of `command.ts` on an exec channel,
 * the request on its stdin, output streamed back, the process group killed
 * through the connection's control shell on abort and after the exit.
 */
import { GantryError } from "../../core/errors.js";
import type { ExecIO, ExecResult } from "../../core/executor.js";
import { abortOutcome } from "../../core/abort.js";
import { pauseFor } from "../shared/backpressure.js";
import { EXEC_COMMAND, execHeader, parseErrorLine, parsePgidLine, reapLine } from "./command.js";
import { exitOf, type SshConnection } from "./connection.js";
import { describeHost } from "./errors.js";

export interface RemoteExec {
  /** Remote directory to run in: absolute, or relative to `jobDir` (which the wrapper enters first). */
  readonly dir: string;
  /** The job directory `dir` must stay inside. */
  readonly jobDir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly script?: string;
  readonly argv?: readonly string[];
  readonly stdin?: string | Uint8Array;
  readonly signal: AbortSignal;
  readonly killGraceMs: number;
}

/** Stderr before the wrapper's pgid line is held back this far at most (a chatty login shell). */
const MAX_PREAMBLE = 64 * 1024;

/**
 * Run a process and resolve with its result once its channel has closed.
 * Rejects only for infrastructure faults: the connection lost (retryable),
 * a working directory that is missing or outside the job directory.
 */
export async function runRemote(conn: SshConnection, req: RemoteExec, io: ExecIO): Promise<ExecResult> {
  if (req.signal.aborted) return { exitCode: null, signal: null, ...abortOutcome(req.signal) };
  const header = execHeader({
    dir: req.dir,
    jobDir: req.jobDir,
    env: req.env,
    ...(req.script !== undefined && { script: req.script }),
    ...(req.argv !== undefined && { argv: req.argv }),
  });
  // The kill must not wait for a free channel slot.
  await conn.prepareControl();
  const channel = await conn.exec(EXEC_COMMAND);

  return await new Promise<ExecResult>((resolve, reject) => {
    let pgid: number | undefined;
    let preamble: Buffer | undefined = Buffer.alloc(0);
    let wrapperError: { kind: string; detail: string } | undefined;
    let exit: { code: number | null; signal: string | null } | undefined;
    let outcome = { timedOut: false, cancelled: false };
    let killSent = false;
    let settled = false;

    const kill = (): void => {
      if (pgid === undefined || killSent) return;
      killSent = true;
      conn.sendControl(reapLine(pgid, req.killGraceMs)).catch(() => {
        // The connection is gone: so is the channel, which settles the exec.
        channel.close();
      });
    };

    const onAbort = (): void => {
      if (exit === undefined) outcome = abortOutcome(req.signal);
      if (pgid === undefined) {
        // Not started yet: closing the channel before the wrapper's exec leaves nothing behind;
        // once the pgid line arrives, `kill` runs.
        return;
      }
      kill();
    };
    req.signal.addEventListener("abort", onAbort, { once: true });

    const finish = (result: ExecResult | Error): void => {
      if (settled) return;
      settled = true;
      req.signal.removeEventListener("abort", onAbort);
      unsubscribe();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const unsubscribe = conn.onClose(() => {
      // Closed channels report it themselves; this catches a connection that died without a close event.
      setTimeout(() => {
        if (!settled) channel.emit("close");
      }, 50).unref();
    });

    const takeLine = (line: string): boolean => {
      const found = parsePgidLine(line);
      if (found !== undefined) {
        pgid = found;
        if (req.signal.aborted) kill();
        return true;
      }
      const error = parseErrorLine(line);
      if (error) {
        wrapperError = error;
        return true;
      }
      return false;
    };

    channel.on("data", (chunk: Buffer) => pauseFor(channel, io.stdout(chunk)));
    channel.stderr.on("data", (chunk: Buffer) => {
      if (preamble === undefined) return io.stderr(chunk);
      let buffered = Buffer.concat([preamble, chunk]);
      for (;;) {
        const nl = buffered.indexOf(10);
        if (nl < 0) break;
        const line = buffered.subarray(0, nl).toString("utf8");
        const ours = takeLine(line);
        if (!ours) io.stderr(buffered.subarray(0, nl + 1));
        buffered = buffered.subarray(nl + 1);
        if (pgid !== undefined) {
          preamble = undefined;
          if (buffered.length > 0) io.stderr(buffered);
          return;
        }
      }
      if (buffered.length > MAX_PREAMBLE) {
        io.stderr(buffered);
        buffered = Buffer.alloc(0);
      }
      preamble = buffered;
    });

    channel.on("exit", (code: number | null, signal?: string) => {
      exit = { code, signal: signal ?? null };
      // Whatever the process left running in its group ends with it.
      kill();
    });

    channel.on("close", () => {
      if (exit === undefined) {
        exit = exitOf(channel); // it came before the listener above was attached
        if (exit) kill();
      }
      if (preamble !== undefined && preamble.length > 0) io.stderr(preamble);
      if (wrapperError) {
        const { kind, detail } = wrapperError;
        if (kind === "escape")
          return finish(new GantryError("PATH_ESCAPE", `working directory resolves to ${detail}, outside the job directory`));
        if (kind === "nocwd")
          return finish(
            new GantryError(
              "EXECUTOR_FAILED",
              `working directory ${JSON.stringify(detail.replace(/^\.\//, ""))} does not exist in the job directory on ${describeHost(conn.target)}`,
            ),
          );
        if (kind === "nojob")
          return finish(
            new GantryError("EXECUTOR_FAILED", `${describeHost(conn.target)}: the job directory ${detail} is gone`, { retryable: true }),
          );
        return finish(new GantryError("EXECUTOR_FAILED", `${describeHost(conn.target)}: the exec wrapper failed: ${kind} ${detail}`));
      }
      if (exit !== undefined) return finish({ exitCode: exit.code, signal: exit.signal, ...outcome });
      if (req.signal.aborted) return finish({ exitCode: null, signal: null, ...abortOutcome(req.signal) });
      finish(
        conn.error ??
          new GantryError("EXECUTOR_FAILED", `${describeHost(conn.target)}: the channel closed without an exit status`, {
            retryable: true,
          }),
      );
    });

    channel.on("error", () => {
      // Followed by close.
    });
    channel.write(header);
    if (req.stdin !== undefined) channel.write(typeof req.stdin === "string" ? Buffer.from(req.stdin) : Buffer.from(req.stdin));
    channel.end();
    if (req.signal.aborted) onAbort();
  });
}
